import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { databaseTargets } from '@sovereign/server-kit/testing';
import { Harness } from './support/harness.ts';

const indexHtml =
  '<!doctype html><title>Sovereign</title><script type="module" src="/assets/index-Ab12Cd34.js"></script>';
const script = 'console.log("dashboard")';

/** A request as a browser sends it, by its full path (Harness.request puts short paths under the API). */
async function get(h: Harness, path: string, options: { method?: 'GET' | 'HEAD'; token?: string } = {}) {
  const response = await h.plane.app.inject({
    method: options.method ?? 'GET',
    url: path,
    headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
  });
  const json = String(response.headers['content-type'] ?? '').includes('json') && response.body.length > 0;
  return {
    status: response.statusCode,
    headers: response.headers,
    text: response.body,
    body: json ? JSON.parse(response.body) : undefined,
  };
}

// Serving files reads no database: PGlite alone, for speed.
const [pglite] = databaseTargets();
if (pglite === undefined) throw new Error('no database target');

describe(`the control plane serves the dashboard at / [${pglite.name}: serving reads no database]`, () => {
  let dir: string;
  let h: Harness;
  let missing: Harness;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sov-dashboard-'));
    await mkdir(join(dir, 'dist', 'assets'), { recursive: true });
    await writeFile(join(dir, 'dist', 'index.html'), indexHtml);
    await writeFile(join(dir, 'dist', 'assets', 'index-Ab12Cd34.js'), script);
    await writeFile(join(dir, 'dist', 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await writeFile(join(dir, 'dist', '.env'), 'SECRET=1');
    await writeFile(join(dir, 'outside.txt'), 'not to be served');
    h = await Harness.start(pglite, { dashboardDir: join(dir, 'dist') });
    missing = await Harness.start(pglite, { dashboardDir: join(dir, 'not-built') });
  });
  after(async () => {
    await h?.close();
    await missing?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the page at / and at every client route, revalidated, with a content security policy', async () => {
    for (const path of ['/', '/signin', '/workspaces/7d4c8d0e-1111-4d4d-9999-aaaaaaaaaaaa/runs', '/api-keys']) {
      const answer = await get(h, path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.text, indexHtml, path);
      assert.match(String(answer.headers['content-type']), /^text\/html/, path);
      assert.equal(answer.headers['cache-control'], 'no-cache', path);
      assert.match(String(answer.headers['content-security-policy']), /script-src 'self'/, path);
    }
    const head = await get(h, '/workspaces', { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('serves hashed assets for good and other files revalidated; a missing file is a 404, not the page', async () => {
    const asset = await get(h, '/assets/index-Ab12Cd34.js');
    assert.equal(asset.status, 200);
    assert.equal(asset.text, script);
    assert.match(String(asset.headers['content-type']), /javascript/);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    const icon = await get(h, '/favicon.svg');
    assert.equal(icon.status, 200);
    assert.equal(icon.headers['cache-control'], 'no-cache');
    const gone = await get(h, '/assets/index-Old00000.js');
    assert.equal(gone.status, 404);
    assert.notEqual(gone.text, indexHtml);
  });

  it('never serves a dot file or a file outside its directory', async () => {
    for (const path of [
      '/.env',
      '/.env.js',
      '/..%2foutside.txt',
      '/..%2foutside',
      '/assets/..%2f..%2foutside.txt',
      '/%2e%2e/outside.txt',
    ]) {
      const answer = await get(h, path);
      // Refused, or answered with the page (a path with no extension is a client route).
      assert.ok([403, 404].includes(answer.status) || answer.text === indexHtml, `${path}: ${answer.status}`);
      assert.ok(!answer.text.includes('not to be served') && !answer.text.includes('SECRET'), path);
    }
  });

  it('leaves /api, /.well-known, /healthz, /readyz and /metrics to the services', async () => {
    const unknown = await get(h, '/api/public/v1/no-such-route');
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.headers['content-type']), /application\/problem\+json/);
    assert.equal(unknown.body.code, 'route_not_found');
    for (const path of ['/api', '/api/internal/v1/nothing', '/.well-known/nothing', '/healthz/x', '/metrics/x']) {
      const answer = await get(h, path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body.code, 'route_not_found', path);
    }
    // What the router says of a path it knows stays as it was: an over-long id is a 400.
    const long = await get(h, `/api/public/v1/organizations/${'a'.repeat(300)}`, { token: h.adminToken });
    assert.equal(long.status, 400);
    assert.equal(long.body.code, 'validation_failed');
    assert.equal((await get(h, '/healthz')).body.status, 'ok');
    assert.equal((await get(h, '/readyz')).body.status, 'ready');
    assert.match((await get(h, '/metrics')).text, /http_requests_total/);
    assert.ok(Array.isArray((await get(h, '/.well-known/jwks.json')).body.keys));
    assert.equal((await get(h, '/api/public/v1/openapi.json')).status, 200);
    const me = await get(h, '/api/public/v1/me', { token: h.adminToken });
    assert.equal(me.body.email, 'admin@localhost');
  });

  it('says plainly at / that the dashboard is not built, and serves the API all the same', async () => {
    for (const path of ['/', '/workspaces']) {
      const answer = await get(missing, path);
      assert.equal(answer.status, 503, path);
      assert.match(String(answer.headers['content-type']), /^text\/plain/);
      assert.match(answer.text, /dashboard is not built/);
      assert.match(answer.text, /npm install/);
    }
    assert.equal((await get(missing, '/api/public/v1/me', { token: missing.adminToken })).status, 200);
    assert.equal((await get(missing, '/api/public/v1/nope')).body.code, 'route_not_found');
  });
});
