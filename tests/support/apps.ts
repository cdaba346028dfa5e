import { request as httpRequest } from 'node:http';
import './localhost.ts';

/**
 * Where a run's app is served: the URL the control plane gives for the run, on its data
 * plane, answers with a redirect to the app's own origin (`http://<runId>.apps.localhost:<port>/`).
 */
export async function appUrlOf(runUrl: string): Promise<string> {
  const answer = await fetch(runUrl, { redirect: 'manual' });
  await answer.body?.cancel();
  const location = answer.headers.get('location');
  if (answer.status !== 308 || location === null) {
    throw new Error(`${runUrl} did not send on to the app's origin: ${answer.status}`);
  }
  return new URL(location, runUrl).href;
}

/** What a browser sends when the user opens a page (the address bar, a link followed). */
export const opening = { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

export interface Opened {
  status: number;
  location: string | undefined;
  setCookies: string[];
  body: any;
}

/**
 * A GET as a browser sends it when it opens a page. By node:http: fetch says it is a
 * `cors` request whatever it is told, and no browser's navigation is.
 */
export function browse(url: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { ...opening, accept: 'text/html', ...headers } }, async (res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString();
      resolve({
        status: res.statusCode ?? 0,
        location: res.headers.location,
        setCookies: res.headers['set-cookie'] ?? [],
        body: (res.headers['content-type'] ?? '').includes('json') ? JSON.parse(text) : text,
      });
    });
    req.on('error', reject);
    req.end();
  });
}
