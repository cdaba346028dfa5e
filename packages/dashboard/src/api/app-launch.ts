/**
 * Where the dashboard may send the browser to open a run's app: that run's own app origin
 * only (http or https, the run's id in its host name, as every data plane builds it from
 * its template). A data plane answers the address, and one run by another organization
 * could answer any: a link to this dashboard's "open app" page would then send a
 * signed-in user from our origin to a page of its choosing (a sign-in page not ours).
 */
export function appLaunchTarget(url: string, runId: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const own =
    parsed !== undefined &&
    (parsed.protocol === 'https:' || parsed.protocol === 'http:') &&
    parsed.username === '' &&
    parsed.password === '' &&
    parsed.hostname.toLowerCase().includes(runId.toLowerCase());
  if (parsed === undefined || !own) {
    throw new Error(`The data plane answered an address that is not this app’s own: ${url}`);
  }
  return parsed.href;
}
