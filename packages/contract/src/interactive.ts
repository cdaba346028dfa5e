/**
 * Interactive jobs (notebooks, dashboards, small apps) are served by their data plane,
 * each run on an origin of its own (`http://<runId>.apps.localhost:8081` under
 * `npm start`; a data plane setting, SOV_APPS_URL_TEMPLATE, names it in production).
 * The control plane hands out the data plane's URL for a run as metadata; the data
 * plane answers it with a redirect to the app's origin. Both build it from here.
 */
export const interactivePathPrefix = '/api/v1/interactive';

/** The run's path on its data plane's own origin: a GET there is sent on to the app's origin. */
export function interactivePath(runId: string): string {
  return `${interactivePathPrefix}/${runId}/`;
}

/** The URL to open an interactive run at, on its data plane's public URL (it redirects to the app's origin). */
export function interactiveUrl(dataplaneUrl: string, runId: string): string {
  return `${dataplaneUrl.replace(/\/+$/, '')}${interactivePath(runId)}`;
}

/** Where a run's id goes in the data plane's app URL template. */
export const appUrlRunPlaceholder = '{run}';

/**
 * The one path a data plane keeps for itself on an app's origin: a browser redeems a
 * launch ticket there (`?ticket=`), once, and gets the app's session cookie.
 */
export const appLaunchPath = '/_sovereign/launch';
export const appTicketParam = 'ticket';

/**
 * The dashboard page an app's origin sends a browser to when it has no session for the
 * app: signed in there, the dashboard asks the data plane for a launch ticket as the
 * signed-in user, bound to the `state` the app's origin gave this browser, and opens
 * the ticket's URL. `path` is where in the app to land.
 */
export function dashboardLaunchPath(runId: string): string {
  return `/runs/${runId}/open`;
}
export const launchStateParam = 'state';
export const launchPathParam = 'path';

/** `POST` with a scoped token (scope `interactive`): a launch ticket for the run's app. */
export function appLaunchApiPath(runId: string): string {
  return `/api/v1/runs/${runId}/app/launch`;
}

/** The body of a launch request. */
export interface InteractiveLaunchRequest {
  /** What the app's origin gave the browser to bring back (its launch cookie's hash). */
  state: string;
  /** Where in the app to land, a path on its origin; `/` when left out. */
  path?: string;
}

/** A launch ticket: the browser that holds the state's cookie opens `url` once, before `expiresAt`. */
export interface InteractiveLaunch {
  /** On the app's own origin, carrying the single-use ticket. */
  url: string;
  /** The app's origin, with its trailing slash. */
  appUrl: string;
  expiresAt: string;
}

/** How long a launch ticket may wait to be redeemed: the dashboard opens it at once. */
export const interactiveTicketSeconds = 60;

/**
 * The longest life of an interactive session cookie (a data plane setting chooses
 * less). The control plane keeps listing a revoked scoped token in heartbeat answers
 * for this long past the token's expiry, so revoking a token also ends the browser
 * sessions opened with it.
 */
export const interactiveSessionMaxSeconds = 8 * 3600;
