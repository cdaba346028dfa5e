import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import type { BrowserContext, Page } from 'playwright-core';
import { appUrlOf, browse } from '../support/apps.ts';
import { assertDashboardBuilt, type Headless, launchChromium, newContext } from '../support/browser.ts';
import { call, expectStatus, Platform, userPassword } from '../support/platform.ts';

/**
 * Interactive apps in a real browser (Debian's Chromium), each on an origin of its own,
 * against a whole platform as processes. The attack this answers (issue 16, point 4):
 * every app was served from the data plane's one origin, and a GET carrying any valid
 * token made a session; so a link with the attacker's token gave the victim a session on
 * the attacker's app, whose page then read the victim's app with the victim's cookie.
 */

/** What only the victim's app holds: found in anything the attacker's page shows, it was read. */
const canary = `vault-canary-${randomBytes(8).toString('hex')}`;

/**
 * The victim's app, as careless as an app may be: any origin may read it with the
 * user's cookie (it reflects Origin and allows credentials). Only the data plane stands
 * between it and another app's page. It says in its log whenever it hands the secret out.
 */
const vault = `const canary = ${JSON.stringify(canary)};
require('node:http').createServer((req, res) => {
  const cors = req.headers.origin ? { 'access-control-allow-origin': req.headers.origin, 'access-control-allow-credentials': 'true' } : {};
  if (req.url === '/secret') {
    console.log('secret served to ' + (req.headers.origin || 'its own page'));
    res.writeHead(200, { 'content-type': 'application/json', ...cors });
    res.end(JSON.stringify({ secret: canary }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html', ...cors });
  res.end('<!doctype html><title>vault</title><h1>vault</h1>');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * A page that tries to read each URL in its `target` parameters with the browser's
 * cookies, and shows what it got in #loot; its title turns `done` when it has tried.
 */
const probe = `require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(\`<!doctype html><title>\${process.env.SOV_JOB}</title><h1>\${process.env.SOV_JOB}</h1><pre id="loot"></pre>
<script>
(async () => {
  const loot = document.getElementById('loot');
  for (const url of new URLSearchParams(location.search).getAll('target')) {
    try {
      const answer = await fetch(url, { credentials: 'include' });
      loot.textContent += url + ' -> ' + answer.status + ' ' + (await answer.text()) + '\\\\n';
    } catch (error) {
      loot.textContent += url + ' -> blocked\\\\n';
    }
  }
  document.title = 'done';
})();
</script>\`);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

async function signIn(page: Page, url: string, email: string) {
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(userPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
}

/** A page has loaded, and if it is a probe, it has tried every target. */
async function settled(page: Page): Promise<void> {
  await page.waitForLoadState('load');
  await page.waitForFunction("document.getElementById('loot') === null || document.title === 'done'");
}

const target = flowTarget();

describe(`interactive apps in a browser, each on its own origin [${target.name}]`, () => {
  let platform: Platform;
  let chromium: Headless;
  let victim: Awaited<ReturnType<Platform['tenant']>>;
  let attacker: Awaited<ReturnType<Platform['tenant']>>;
  let runs: Record<'vault' | 'curious' | 'lure', { runId: string; url: string }>;
  /** The victim's browser, signed in to the dashboard, with the vault open. */
  let context: BrowserContext;
  let dpPort: string;
  /** Where the vault's tab ended up when the victim opened it from the dashboard. */
  let vaultOpenedAt: string;
  const app = (runId: string, path = '/') => `http://${runId}.apps.localhost:${dpPort}${path}`;

  const start = async (who: { token: string }, jobId: string | undefined) => {
    const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobId}/runs`, { token: who.token });
    await platform.waitFor(
      async () =>
        (await expectStatus(200, 'GET', `${platform.cp}/runs/${run.runId}`, { token: who.token })).status === 'running',
      `${run.runId} to run`,
      60_000,
    );
    return { runId: run.runId as string, url: run.url as string };
  };

  /** The vault's log lines, read from its data plane as the victim. */
  const vaultLog = async () => {
    const { token } = await platform.scopedToken(victim.token, victim.workspace.workspaceId, ['runs:logs']);
    const log = await expectStatus(200, 'GET', `${platform.dp('eu-1').url}/api/v1/runs/${runs.vault.runId}/logs`, {
      token,
    });
    return (log.data as Array<{ line: string }>).map((l) => l.line);
  };

  before(async () => {
    assertDashboardBuilt();
    platform = await Platform.start(target);
    dpPort = new URL(platform.dp('eu-1').url).port;
    victim = await platform.tenant('eu', 'victim');
    attacker = await platform.tenant('eu', 'attacker');
    const mine = await platform.deploy(victim.token, victim.workspace.workspaceId, {
      'sovereign.yaml':
        'jobs:\n  - name: vault\n    kind: interactive\n    run: node vault.js\n  - name: curious\n    kind: interactive\n    run: node probe.js\n',
      'vault.js': vault,
      'probe.js': probe,
    });
    const theirs = await platform.deploy(attacker.token, attacker.workspace.workspaceId, {
      'sovereign.yaml': 'jobs:\n  - name: lure\n    kind: interactive\n    run: node probe.js\n',
      'probe.js': probe,
    });
    runs = {
      vault: await start(victim, mine.jobs.vault),
      curious: await start(victim, mine.jobs.curious),
      lure: await start(attacker, theirs.jobs.lure),
    };
    chromium = await launchChromium();

    // The victim signs in to the dashboard and opens the vault from its run page.
    context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, victim.email);
    await page.goto(`${platform.controlPlane.url}/runs/${runs.vault.runId}`);
    const [tab] = await Promise.all([
      context.waitForEvent('page'),
      page.getByRole('button', { name: 'Open app' }).click(),
    ]);
    await tab.getByRole('heading', { name: 'vault', exact: true }).waitFor({ timeout: 30_000 });
    vaultOpenedAt = tab.url();
    await tab.close();
    await page.close();
  });
  after(async () => {
    await chromium?.close();
    await platform?.stop();
  });

  it("an attacker's link no longer gives the victim a session on the attacker's app, whose page read the victim's app", async () => {
    const theirs = await platform.scopedToken(attacker.token, attacker.workspace.workspaceId, ['interactive']);
    // The attacker's page tries the victim's app where it used to be, and where it is now.
    const targets = new URLSearchParams([
      ['target', `/api/v1/interactive/${runs.vault.runId}/secret`],
      ['target', app(runs.vault.runId, '/secret')],
    ]).toString();
    const links: Array<[string, () => Promise<string>]> = [
      // The attack as it was: a link carrying the attacker's token, to the attacker's app.
      ["a link with the attacker's token", async () => `${runs.lure.url}?sov_token=${theirs.token}&${targets}`],
      [
        "the attacker's own launch ticket",
        async () => {
          // A ticket for the attacker, bound to the attacker's own browser (its launch cookie).
          const own = await browse(app(runs.lure.runId, `/?${targets}`));
          const state = new URL(own.location ?? '').searchParams.get('state') ?? '';
          const ticket = await expectStatus(
            200,
            'POST',
            `${platform.dp('eu-1').url}/api/v1/runs/${runs.lure.runId}/app/launch`,
            { token: theirs.token, body: { state, path: `/?${targets}` } },
          );
          return ticket.url as string;
        },
      ],
      ["the attacker's app", async () => app(runs.lure.runId, `/?${targets}`)],
    ];
    for (const [what, link] of links) {
      const page = await context.newPage();
      await page.goto(await link());
      await settled(page);
      assert.ok(!(await page.content()).includes(canary), `${what}: the attacker's page read the victim's app`);
      assert.equal(
        await page.getByRole('heading', { name: 'lure', exact: true }).count(),
        0,
        `${what}: the attacker's app opened in the victim's browser`,
      );
      await page.close();
    }
    const sessions = await context.cookies(app(runs.lure.runId));
    assert.deepEqual(
      sessions.filter((c) => c.name.includes('sov_session')).map((c) => c.name),
      [],
      "the victim's browser holds no session of the attacker's app",
    );
    assert.deepEqual(await vaultLog(), [], 'the vault never handed its secret out');
  });

  it('tells the victim why: the ticket was not theirs, and the dashboard opens an app only for a user who may', async () => {
    const theirs = await platform.scopedToken(attacker.token, attacker.workspace.workspaceId, ['interactive']);
    const own = await browse(app(runs.lure.runId));
    const state = new URL(own.location ?? '').searchParams.get('state') ?? '';
    const ticket = await expectStatus(
      200,
      'POST',
      `${platform.dp('eu-1').url}/api/v1/runs/${runs.lure.runId}/app/launch`,
      {
        token: theirs.token,
        body: { state },
      },
    );
    const page = await context.newPage();
    const answer = await page.goto(ticket.url);
    assert.equal(answer?.status(), 401);
    assert.match(await page.content(), /interactive_ticket_invalid/);
    await page.goto(app(runs.lure.runId));
    await page.getByText(/Not opened/).waitFor({ timeout: 30_000 });
    assert.equal(new URL(page.url()).pathname, `/runs/${runs.lure.runId}/open`, 'the dashboard said it, as the victim');
    await page.close();
    // And the ticket is still the attacker's: their own browser (its launch cookie) opens it.
    const opened = await browse(ticket.url, { cookie: (own.setCookies[0] ?? '').split(';')[0] ?? '' });
    assert.equal(opened.status, 303, 'a ticket refused in another browser is not used up');
  });

  it("a page of another app the user opened cannot use an app's cookie, even one that allows any origin", async () => {
    const page = await context.newPage();
    const reads = new URLSearchParams([['target', app(runs.vault.runId, '/secret')]]).toString();
    await page.goto(app(runs.curious.runId, `/?${reads}`));
    await page.getByRole('heading', { name: 'curious', exact: true }).waitFor({ timeout: 30_000 });
    await settled(page);
    const loot = (await page.locator('#loot').textContent()) ?? '';
    assert.ok(!loot.includes(canary), `another app's page read the vault: ${loot}`);
    assert.match(loot, / -> blocked/);
    // The browser sent the vault's cookie (same site), and the data plane said no.
    const refusals = platform
      .dp('eu-1')
      .service.output()
      .split('\n')
      .filter((line) => line.includes(runs.vault.runId) && line.includes('interactive_cross_origin'));
    assert.equal(refusals.length, 1, 'the data plane refused it, with the vault’s cookie');
    assert.deepEqual(await vaultLog(), [], 'the vault never answered it');
    await page.close();
    // The vault's own page reads it, with the same cookie.
    const own = await context.newPage();
    await own.goto(app(runs.vault.runId));
    const secret = await own.evaluate(`fetch('/secret').then((r) => r.json())`);
    assert.deepEqual(secret, { secret: canary });
    await own.close();
  });

  it('opens an app on its own origin, and keeps each session cookie on that host only, bound to that app', async () => {
    assert.equal(vaultOpenedAt, app(runs.vault.runId), 'the dashboard opened it on its own origin, ticket gone');
    const sessions = (await context.cookies()).filter((c) => c.name === 'sov_session');
    const runOf = (value: string) =>
      JSON.parse(Buffer.from(value.split('.')[0] ?? '', 'base64url').toString()).run as string;
    const vaultSession = sessions.find((c) => runOf(c.value) === runs.vault.runId);
    assert.ok(vaultSession !== undefined, 'the victim holds a session of the vault');
    assert.equal(
      vaultSession.domain,
      `${runs.vault.runId}.apps.localhost`,
      'host-only: on the vault’s own host, with no Domain a sibling host could match',
    );
    assert.equal(vaultSession.path, '/');
    assert.equal(vaultSession.httpOnly, true);
    assert.equal(vaultSession.sameSite, 'Lax');
    for (const session of sessions) {
      assert.equal(session.domain, `${runOf(session.value)}.apps.localhost`, 'each on its own app’s host only');
    }
    for (const elsewhere of [app(runs.curious.runId), app(runs.lure.runId), `http://apps.localhost:${dpPort}/`]) {
      const sent = await context.cookies(elsewhere);
      assert.ok(!sent.some((c) => c.value === vaultSession.value), `the vault's session is not sent to ${elsewhere}`);
    }
    // Given to another app's origin by hand, it opens nothing there.
    const replayed = await call('GET', app(runs.curious.runId), {
      headers: { cookie: `sov_session=${vaultSession.value}` },
    });
    assert.equal(replayed.status, 401, 'another app’s origin takes nothing from the vault’s session');
    assert.equal(replayed.body.code, 'interactive_session_invalid');
    // And the URL the control plane gives leads to the app's own origin.
    assert.equal(await appUrlOf(runs.vault.url), app(runs.vault.runId));
  });
});
