/**
 * Interactive jobs (notebooks, dashboards, small apps) are reached through their data
 * plane at one URL per run. The control plane hands the URL out as metadata; the data
 * plane serves it. Both build it from here.
 */
export const interactivePathPrefix = '/api/v1/interactive';

/** The path an interactive run is served under, with its trailing slash (relative links resolve under it). */
export function interactivePath(runId: string): string {
  return `${interactivePathPrefix}/${runId}/`;
}

/** The URL to open an interactive run at, on its data plane's public URL. */
export function interactiveUrl(dataplaneUrl: string, runId: string): string {
  return `${dataplaneUrl.replace(/\/+$/, '')}${interactivePath(runId)}`;
}

/**
 * A browser cannot send an Authorization header on a navigation: it opens
 * `<url>?sov_token=<scoped token>` once, the data plane answers with a session cookie
 * for that run's path and redirects to the URL without the token.
 */
export const interactiveTokenParam = 'sov_token';

/**
 * The longest life of an interactive session cookie (a data plane setting chooses
 * less). The control plane keeps listing a revoked scoped token in heartbeat answers
 * for this long past the token's expiry, so revoking a token also ends the browser
 * sessions opened with it.
 */
export const interactiveSessionMaxSeconds = 8 * 3600;
