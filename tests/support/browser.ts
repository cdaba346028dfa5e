import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core (Playwright's own browser download does
 * not work here). `.ci/run` installs the package when it is missing.
 */
export const chromiumPath = process.env.SOV_CHROMIUM ?? '/usr/bin/chromium';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const dashboardDist = join(root, 'packages/dashboard/dist');
export const screenshotsDir = join(root, 'test-results/screenshots');

/** Phone and desktop widths, for layouts and screenshots. */
export const viewports = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 860 },
} as const;

export function assertDashboardBuilt(): void {
  if (!existsSync(join(dashboardDist, 'index.html'))) {
    throw new Error(
      `The dashboard is not built (${dashboardDist}/index.html is missing): run npm install, or npm run build.`,
    );
  }
}

export interface Headless {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * A headless Chromium with no traffic of its own (this machine's network is closed).
 * Playwright gives every launch a fresh, empty profile directory of its own.
 */
export async function launchChromium(): Promise<Headless> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is not at ${chromiumPath}: apt-get install chromium (.ci/run does), or set SOV_CHROMIUM.`,
    );
  }
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

/** One exchange the page made, as the browser itself saw it. */
export interface Exchange {
  url: string;
  method: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  bodyError?: string;
}

/** What Chromium received of an answer, chunk by chunk. */
interface Stream {
  url: string;
  chunks: Buffer[];
  error?: string;
}

/**
 * Records every request the page sends and every answer it gets, with their bodies,
 * from the browser's own network events: what left the page and what came back.
 * Chromium keeps no body for an answer that streams (server-sent events), nor for one
 * the page navigated away from, so bodies are also taken from its DevTools protocol as
 * they arrive (Network.streamResourceContent).
 */
export async function recordNetwork(page: Page): Promise<{ exchanges: Exchange[]; settled(): Promise<void> }> {
  const exchanges: Exchange[] = [];
  const pending: Promise<unknown>[] = [];
  const byRequest = new Map<object, Exchange>();
  const streams = new Map<string, Stream>();

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  // Every answer, not only streams: a body Playwright cannot read afterwards (the page
  // navigated away meanwhile) is still what Chromium received here.
  cdp.on('Network.responseReceived', (event) => {
    const stream: Stream = { url: event.response.url, chunks: [] };
    streams.set(event.requestId, stream);
    pending.push(
      cdp.send('Network.streamResourceContent', { requestId: event.requestId }).then(
        ({ bufferedData }) => {
          stream.chunks.unshift(Buffer.from(bufferedData, 'base64'));
        },
        (error: unknown) => {
          stream.error = String(error);
        },
      ),
    );
  });
  cdp.on('Network.dataReceived', (event) => {
    const stream = streams.get(event.requestId);
    if (stream !== undefined && event.data !== undefined) stream.chunks.push(Buffer.from(event.data, 'base64'));
  });

  page.on('request', (request) => {
    const exchange: Exchange = {
      url: request.url(),
      method: request.method(),
      requestHeaders: {},
      requestBody: request.postData() ?? '',
    };
    byRequest.set(request, exchange);
    exchanges.push(exchange);
    pending.push(
      request.allHeaders().then(
        (headers) => {
          exchange.requestHeaders = headers;
        },
        () => {},
      ),
    );
  });
  page.on('response', (response) => {
    const exchange = byRequest.get(response.request());
    if (exchange === undefined) return;
    exchange.status = response.status();
    pending.push(
      response.allHeaders().then(
        (headers) => {
          exchange.responseHeaders = headers;
        },
        () => {},
      ),
      response.body().then(
        (body) => {
          exchange.responseBody = body.toString('utf8');
        },
        (error: unknown) => {
          exchange.bodyError = String(error);
        },
      ),
    );
  });
  return {
    exchanges,
    async settled() {
      // Bodies of answers still streaming settle when their streams end (or the page closes).
      let seen = -1;
      while (seen !== pending.length) {
        seen = pending.length;
        await Promise.allSettled(pending);
      }
      // An answer whose body Playwright could not read: what the DevTools protocol saw of
      // it, with every other answer from the same URL (a superset, never less).
      for (const exchange of exchanges) {
        if (exchange.responseBody !== undefined) continue;
        // (A CORS preflight to the same URL has no content to stream: its error is no gap.)
        const received = [...streams.values()].filter((s) => s.url === exchange.url && s.error === undefined);
        if (received.length === 0) continue;
        exchange.responseBody = Buffer.concat(received.flatMap((s) => s.chunks)).toString('utf8');
        delete exchange.bodyError;
      }
      // Still none (Chromium streamed nothing for it: a favicon, say): a GET is asked
      // again with the page's credentials, and what it answers now is what is checked.
      for (const exchange of exchanges) {
        if (exchange.responseBody !== undefined || exchange.method !== 'GET') continue;
        const headers = Object.fromEntries(
          Object.entries(exchange.requestHeaders).filter(([name]) =>
            ['authorization', 'cookie', 'accept'].includes(name.toLowerCase()),
          ),
        );
        const again = await fetch(exchange.url, { headers, signal: AbortSignal.timeout(5_000) })
          .then((response) => response.text())
          .catch(() => undefined);
        if (again === undefined) continue;
        exchange.responseBody = again;
        delete exchange.bodyError;
      }
    },
  };
}

/** Saves a full-page screenshot as test-results/screenshots/<group>/<name>-<width>.png. */
export async function screenshot(page: Page, group: string, name: string, width: keyof typeof viewports) {
  const dir = join(screenshotsDir, group);
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}-${width}.png`), fullPage: true });
}

export async function newContext(browser: Browser, width: keyof typeof viewports): Promise<BrowserContext> {
  return browser.newContext({
    viewport: viewports[width],
    ...(width === 'phone' ? { isMobile: true, hasTouch: true } : {}),
  });
}
