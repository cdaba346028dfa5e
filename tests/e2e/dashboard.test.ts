import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { formatDuration } from '@sovereign/client';
import { InternalPaths, protocolVersion } from '@sovereign/contract';
import { flowTarget } from '@sovereign/server-kit/testing';
import type { Page } from 'playwright-core';
import {
  assertDashboardBuilt,
  type Exchange,
  type Headless,
  launchChromium,
  newContext,
  recordNetwork,
  screenshot,
  type viewports,
} from '../support/browser.ts';
import { dropIntoRun } from '../support/inside.ts';
import { call, expectStatus, Platform, userPassword } from '../support/platform.ts';
import { packProject } from '../support/projects.ts';

/**
 * The dashboard, in Debian's Chromium, against a whole platform as processes: a person
 * signs in, opens a workspace, triggers a run, watches its log lines arrive while it runs,
 * and sees it succeed. The browser's own network events show that the log text came from
 * the data plane and that no request to the control plane carried it or got it back (R2).
 */

/** Text no other place could hold by chance: found anywhere, it came from this run's log. */
const marker = `logmark-${randomBytes(6).toString('hex')}`;
const secretValue = `sk-dash-${randomBytes(8).toString('hex')}`;
const lineText = (n: number) => `live line ${n} ${marker}`;

/**
 * Prints three lines a moment apart, then waits for the test to open a gate (so the page
 * is seen following a run that is still running, whatever the machine's speed), prints
 * three more, and leaves an output and its state.
 */
function project() {
  return {
    'sovereign.yaml': `jobs:
  - name: live
    run: node live.js
    timeout: 5m
  - name: nightly
    run: node live.js
    schedule: "0 0 1 1 *"
    timezone: Europe/Berlin
  - name: slow
    run: node slow.js
  - name: explorer
    kind: interactive
    run: node app.js
  - name: check
    run: node check.js
    schedule: "0 0 1 1 *"
    timezone: Europe/Berlin
    retries: 1
    retry_delay: 0s
  - name: greet
    run: echo "hello $SOV_PARAM_WHO"
    params:
      - { name: who, required: true }
`,
    'check.js': `if (process.env.SOV_ATTEMPT === '1') { console.error('check failed on purpose'); process.exit(1); }
console.log('check passed on attempt ' + process.env.SOV_ATTEMPT);
`,
    'app.js': `require('node:http')
  .createServer((req, res) => res.end('<!doctype html><title>explorer</title><h1>Explorer app</h1>'))
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
    'slow.js': `console.log('slow started'); setTimeout(() => {}, 300000);\n`,
    'live.js': `
const fs = require('node:fs');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const gate = require('node:path').join(process.env.HOME, 'gate-open');
const marker = ${JSON.stringify(marker)};
(async () => {
  for (let n = 1; n <= 3; n++) { console.log('live line ' + n + ' ' + marker); await sleep(300); }
  const deadline = Date.now() + 120000;
  while (!fs.existsSync(gate)) {
    if (Date.now() > deadline) { console.error('the gate never opened'); process.exit(2); }
    await sleep(100);
  }
  for (let n = 4; n <= 6; n++) { console.log('live line ' + n + ' ' + marker); await sleep(300); }
  fs.writeFileSync(process.env.SOV_OUTPUT_DIR + '/summary.json', JSON.stringify({ lines: 6 }));
  fs.writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ cursor: 'row-6' }));
})();
`,
  };
}

/** Everything an exchange carried either way, as text. */
function carried(exchange: Exchange): string {
  return [
    exchange.url,
    JSON.stringify(exchange.requestHeaders),
    exchange.requestBody,
    JSON.stringify(exchange.responseHeaders ?? {}),
    exchange.responseBody ?? '',
  ].join('\n');
}

/** The texts of a table row's cells, for the row whose text matches `name`. */
async function rowCells(page: Page, name: string): Promise<string[]> {
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) });
  await row.waitFor();
  return (await row.getByRole('cell').allTextContents()).map((text) => text.trim());
}

async function signIn(page: Page, url: string, email: string) {
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(userPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
}

const target = flowTarget();

describe(`dashboard in a browser, logs straight from the data plane [${target.name}]`, () => {
  let platform: Platform;
  let chromium: Headless;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let viewer: { email: string; token: string };
  let dp: string;
  let ws: string;
  const shots = target.name;

  before(async () => {
    assertDashboardBuilt();
    platform = await Platform.start(target);
    t = await platform.tenant('eu', 'dash');
    ws = t.workspace.workspaceId;
    viewer = await platform.member(t.token, t.organizationId, 'viewer');
    const issued = await platform.scopedToken(t.token, ws, ['deployments:write', 'variables:read']);
    dp = `${issued.dataplane.url}/api/v1`;
    await platform.waitFor(
      async () => (await call('GET', `${dp}/workspaces/${ws}/variables`, { token: issued.token })).status === 200,
      'eu-1 to host the workspace',
    );
    await expectStatus(200, 'POST', `${dp}/workspaces/${ws}/deployments`, {
      token: issued.token,
      raw: new Uint8Array(await packProject(project())),
      headers: { 'content-type': 'application/gzip' },
    });
    await platform.waitFor(async () => {
      const jobs = await call('GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: t.token });
      return jobs.status === 200 && jobs.body.data.length === 6;
    }, 'the jobs to reach the control plane');
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await platform?.stop();
  });

  it("answers CORS for the dashboard's origin only: preflights, refusals and reads", async () => {
    const origin = platform.controlPlane.url;
    const preflight = await fetch(`${dp}/runs/00000000-0000-4000-8000-000000000000/logs?follow=true`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), null, 'no cookies, ever');

    const stranger = await fetch(`${dp}/workspaces/${ws}/variables`, {
      method: 'OPTIONS',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(stranger.headers.get('access-control-allow-origin'), null);
    assert.equal(stranger.headers.get('access-control-allow-methods'), null);
    assert.match(stranger.headers.get('vary') ?? '', /origin/i);

    // A refusal is readable by the page, so it can say why.
    const refused = await fetch(`${dp}/workspaces/${ws}/variables`, { headers: { origin } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), origin);
    assert.equal(((await refused.json()) as { code: string }).code, 'token_missing');

    const { token } = await platform.scopedToken(t.token, ws, ['variables:read']);
    const read = await fetch(`${dp}/workspaces/${ws}/variables`, {
      headers: { origin, authorization: `Bearer ${token}` },
    });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('access-control-allow-origin'), origin);
    assert.match(read.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
  });

  it('signs in, opens a workspace, triggers a run, follows its log live and sees it succeed; the control plane never carries log text', async () => {
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    const network = await recordNetwork(page);
    const width: keyof typeof viewports = 'desktop';

    await page.goto(platform.controlPlane.url);
    await page.getByRole('heading', { name: 'Sign in to Sovereign' }).waitFor();
    await screenshot(page, shots, '01-sign-in', width);
    await signIn(page, platform.controlPlane.url, t.email);
    await page.getByRole('link', { name: 'dash-ws' }).waitFor();
    await screenshot(page, shots, '02-organizations', width);

    await page.getByRole('link', { name: 'dash-ws' }).click();
    const trigger = page.getByRole('button', { name: 'Trigger a run of live' });
    await trigger.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Pause the schedule of nightly' }).count(), 1);
    assert.equal(await page.getByRole('button', { name: /schedule of live/ }).count(), 0, 'manual jobs have none');
    // Each scheduled job says when it runs next: the control plane's nextRunAt.
    const listed = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: t.token });
    const nightly = listed.data.find((j: { name: string }) => j.name === 'nightly');
    assert.ok(nightly?.nextRunAt, 'a cron job has a next run');
    const row = page.getByRole('row').filter({ hasText: 'nightly' });
    assert.equal(await row.locator('td[data-label="Next run"] time').getAttribute('datetime'), nightly.nextRunAt);
    await row
      .locator('td[data-label="Next run"]')
      .getByText(/\(in .+\)/)
      .waitFor();
    await screenshot(page, shots, '03-jobs', width);

    await trigger.click();
    const log = page.getByRole('log', { name: 'Run log' });
    const status = page.getByRole('status', { name: 'Run status' });
    // The first lines arrive while the job waits at its gate: the page follows a running run.
    await log.getByText(lineText(3)).waitFor({ timeout: 60_000 });
    // Its status comes from the control plane, which hears of the start a moment later.
    await status.getByText('running', { exact: true }).waitFor({ timeout: 30_000 });
    assert.equal(await log.getByText(lineText(4)).count(), 0, 'line 4 is printed only after the gate opens');
    await page.getByText('Following live…').waitFor();
    await screenshot(page, shots, '04-run-following', width);

    // The job waits for a file in its own home, in its jail: the test drops it there.
    const gatedRun = /\/runs\/([0-9a-f-]{36})/.exec(page.url())?.[1];
    assert.ok(gatedRun !== undefined, `the run's page names its run: ${page.url()}`);
    await dropIntoRun(gatedRun, 'gate-open');
    await log.getByText(lineText(6)).waitFor({ timeout: 60_000 });
    await status.getByText('succeeded', { exact: true }).waitFor({ timeout: 60_000 });
    await page.getByText('End of log: 6 lines.').waitFor();
    const shown = (await log.locator('.text').allTextContents()).filter((line) => line.includes(marker));
    assert.deepEqual(shown, [1, 2, 3, 4, 5, 6].map(lineText), 'every line once, in order');
    await page.getByText('exited with 0 (exit_zero)').waitFor();
    // One duration, the data plane's measure of the process, written as the CLI writes it.
    await platform.waitFor(
      async () => (await call('GET', `${platform.cp}/runs/${gatedRun}`, { token: t.token })).body.durationMs !== null,
      'the control plane to state the duration',
    );
    const { durationMs } = await expectStatus(200, 'GET', `${platform.cp}/runs/${gatedRun}`, { token: t.token });
    await page.locator('dt:text-is("Duration") + dd').getByText(formatDuration(durationMs), { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Download summary.json' }).waitFor();
    await page.getByText('"cursor": "row-6"').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0, 'an ended run has no cancel');
    const runUrl = page.url();
    await screenshot(page, shots, '05-run-succeeded', width);

    // The runs list, filtered by status, shows it with its live status.
    await page.getByRole('link', { name: 'dash-ws' }).click();
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByLabel('Job').selectOption({ label: 'live' });
    const runId = runUrl.split('/').at(-1) ?? '';
    await page.getByRole('link', { name: `Run ${runId.slice(0, 8)} of live` }).waitFor();
    await page.getByLabel('Status').selectOption('failed');
    await page.getByText('No runs match.').waitFor();
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByRole('link', { name: `Run ${runId.slice(0, 8)} of live` }).waitFor();
    await screenshot(page, shots, '06-runs', width);

    // Pause and resume the scheduled job.
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('button', { name: 'Pause the schedule of nightly' }).click();
    await page.getByRole('button', { name: 'Resume the schedule of nightly' }).waitFor();
    const paused = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: t.token });
    assert.equal(paused.data.find((j: { name: string }) => j.name === 'nightly').paused, true);
    await page.getByRole('button', { name: 'Resume the schedule of nightly' }).click();
    await page.getByRole('button', { name: 'Pause the schedule of nightly' }).waitFor();

    // A secret is written from the page to the data plane, and never shown again.
    await page.getByRole('link', { name: 'Variables' }).click();
    await page.getByLabel('Name', { exact: true }).fill('API_TOKEN');
    await page.getByLabel('Secret (encrypted, never shown again)').check();
    await page.getByLabel('Value').fill(secretValue);
    await page.getByRole('button', { name: 'Save variable' }).click();
    await page.getByText('Secret API_TOKEN saved.').waitFor();
    await page.getByRole('table').getByText('API_TOKEN', { exact: true }).waitFor();
    assert.equal(await page.getByText('secret, write-only').count(), 1);
    assert.ok(!(await page.content()).includes(secretValue), 'the page no longer holds the secret');
    await screenshot(page, shots, '07-variables', width);
    // A delete is asked about in the page's own dialog: keeping it changes nothing.
    await page.getByLabel('Name', { exact: true }).fill('OLD_SETTING');
    await page.getByLabel('Secret (encrypted, never shown again)').uncheck();
    await page.getByLabel('Value').fill('retired');
    await page.getByRole('button', { name: 'Save variable' }).click();
    await page.getByRole('table').getByText('OLD_SETTING', { exact: true }).waitFor();
    const deleting = page.getByRole('dialog', { name: 'Delete this variable?' });
    await page.getByRole('button', { name: 'Delete OLD_SETTING' }).click();
    await deleting.getByRole('button', { name: 'Keep it' }).click();
    await deleting.waitFor({ state: 'hidden' });
    const kept = await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/variables`, {
      token: (await platform.scopedToken(t.token, ws, ['variables:read'])).token,
    });
    assert.ok(
      kept.data.some((v: { name: string }) => v.name === 'OLD_SETTING'),
      'kept when the dialog says keep',
    );
    await page.getByRole('button', { name: 'Delete OLD_SETTING' }).click();
    await deleting.getByRole('button', { name: 'Yes, delete it' }).click();
    await page.getByRole('table').getByText('OLD_SETTING', { exact: true }).waitFor({ state: 'detached' });

    // Regions and data planes, with health from heartbeats.
    await page.getByRole('link', { name: 'Organizations' }).first().click();
    await page.getByRole('link', { name: 'Regions and data planes' }).first().click();
    await page.getByRole('heading', { name: 'Region eu' }).waitFor();
    await page.getByRole('table').getByText('eu-1', { exact: true }).waitFor();
    await page.getByText('healthy', { exact: true }).first().waitFor();
    await screenshot(page, shots, '08-regions', width);

    // An API key is shown once.
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Key name').fill('laptop');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const key = (await page.getByLabel('New API key', { exact: true }).textContent()) ?? '';
    assert.match(key, /\S{20,}/);
    const me = await expectStatus(200, 'GET', `${platform.cp}/me`, { token: key });
    assert.equal(me.email, t.email, 'the key shown works as the user');
    assert.equal(me.apiKey.role, 'member', 'as a member unless another role is chosen');
    assert.ok(Date.parse(me.apiKey.expiresAt) > Date.now() + 89 * 86_400_000, 'for 90 days unless told');
    await screenshot(page, shots, '09-api-key-created', width);
    await page.reload();
    await page.getByRole('table').getByText('laptop', { exact: true }).waitFor();
    assert.ok(!(await page.content()).includes(key), 'after a reload the key is gone for good');
    // Revoked only once the dialog is answered yes: then the key no longer works.
    const revoking = page.getByRole('dialog', { name: 'Revoke this API key?' });
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await revoking.getByRole('button', { name: 'Keep it' }).click();
    await revoking.waitFor({ state: 'hidden' });
    await expectStatus(200, 'GET', `${platform.cp}/me`, { token: key });
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await revoking.getByRole('button', { name: 'Yes, revoke it' }).click();
    await page.getByRole('table').getByText('laptop', { exact: true }).waitFor({ state: 'detached' });
    await expectStatus(401, 'GET', `${platform.cp}/me`, { token: key });

    await page.close();
    await network.settled();
    await context.close();

    const cp = new URL(platform.controlPlane.url).origin;
    const dpOrigin = new URL(dp).origin;
    const toCp = network.exchanges.filter((e) => new URL(e.url).origin === cp);
    const toDp = network.exchanges.filter((e) => new URL(e.url).origin === dpOrigin);
    // The recording saw what the page did: its API calls and their answers, with bodies.
    assert.ok(toCp.some((e) => e.url.includes(`/runs/${runId}`) && (e.responseBody ?? '').includes('succeeded')));
    assert.ok(
      toDp.some((e) => e.url.includes(`/runs/${runId}/logs?follow=true`)),
      'logs were followed there',
    );
    assert.ok(
      toDp.some((e) => (e.responseBody ?? '').includes(marker)),
      `the log text came from the data plane: ${toDp.map((e) => `${e.url} ${e.bodyError ?? ''}`).join(', ')}`,
    );
    assert.ok(
      toDp.some((e) => e.requestBody.includes(secretValue)),
      'the secret went to the data plane',
    );
    for (const exchange of toCp) {
      assert.equal(exchange.bodyError, undefined, `${exchange.url}: its body was recorded`);
      const text = carried(exchange);
      assert.ok(!text.includes(marker), `${exchange.method} ${exchange.url} carried log text`);
      assert.ok(!text.includes(secretValue), `${exchange.method} ${exchange.url} carried the secret`);
    }
    // The stream the page read carries the CORS headers itself (it is written by hand, not by Fastify).
    const { token: logsToken } = await platform.scopedToken(t.token, ws, ['runs:logs']);
    const stream = await fetch(`${dp}/runs/${runId}/logs?follow=true`, {
      headers: { origin: cp, authorization: `Bearer ${logsToken}` },
    });
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.equal(stream.headers.get('access-control-allow-origin'), cp);
    assert.ok((await stream.text()).includes(lineText(6)));
    const elsewhere = network.exchanges.filter((e) => ![cp, dpOrigin].includes(new URL(e.url).origin));
    assert.deepEqual(
      elsewhere.map((e) => e.url),
      [],
      'the page talks to its control plane and its data plane only',
    );
  });

  it('cancels a running run from its page', async () => {
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    await page.getByRole('link', { name: 'dash-ws' }).click();
    await page.getByRole('button', { name: 'Trigger a run of slow' }).click();
    const status = page.getByRole('status', { name: 'Run status' });
    await page.getByRole('log', { name: 'Run log' }).getByText('slow started').waitFor({ timeout: 60_000 });
    await status.getByText('running', { exact: true }).waitFor({ timeout: 30_000 });
    const runId = /\/runs\/([0-9a-f-]{36})/.exec(page.url())?.[1];
    // Cancel asks first; keeping it running changes nothing.
    await page.getByRole('button', { name: 'Cancel run' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this run?' });
    await dialog.waitFor();
    await screenshot(page, shots, '14-cancel-confirm', 'desktop');
    await dialog.getByRole('button', { name: 'Keep it running' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const kept = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token });
    assert.deepEqual([kept.status, kept.cancelRequested], ['running', false], 'not cancelled without confirming');
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await dialog.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await status.getByText('cancelled', { exact: true }).waitFor({ timeout: 60_000 });
    await page.getByText('cancelled (cancelled)').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0);
    await context.close();
  });

  it('shows a job’s page: its next run, its buttons, its runs as bars by status that link to them, a new bar on a trigger; a run opens by its short id', async () => {
    const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: t.token });
    const check = jobs.data.find((j: { name: string }) => j.name === 'check');
    assert.ok(check.nextRunAt !== null, 'a scheduled job has a next run');
    type Listed = { runId: string; status: string; attempt: number };
    const ended = async (wanted: number): Promise<Listed[]> => {
      let runs: Listed[] = [];
      await platform.waitFor(
        async () => {
          const listed = await call('GET', `${platform.cp}/runs?jobId=${check.jobId}`, { token: t.token });
          runs = listed.body.data;
          return runs.length === wanted && runs.every((r) => ['succeeded', 'failed'].includes(r.status));
        },
        `${wanted} runs of check to end`,
        60_000,
      );
      return runs;
    };
    // Its first attempt fails on purpose and its retry succeeds: a failed bar, then a succeeded one.
    await expectStatus(200, 'POST', `${platform.cp}/jobs/${check.jobId}/runs`, { token: t.token });
    const before = await ended(2);
    assert.deepEqual(
      before.map((r) => [r.attempt, r.status]),
      [
        [2, 'succeeded'],
        [1, 'failed'],
      ],
    );

    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    await page.getByRole('link', { name: 'dash-ws' }).click();
    await page.getByRole('link', { name: 'check', exact: true }).click();
    await page.getByRole('heading', { name: /^check/, level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/workspaces/${ws}/jobs/${check.jobId}`);
    await page.getByText('Cron 0 0 1 1 * (Europe/Berlin)').waitFor();
    const next = page.getByTestId('next-run');
    assert.equal(await next.locator('time').getAttribute('datetime'), check.nextRunAt);
    assert.match((await next.textContent()) ?? '', /\(in \d/, 'the next run, and how far away it is');
    await page.getByRole('button', { name: 'Trigger run' }).waitFor();

    // One bar per run, oldest on the left, coloured by status, each a link to its run.
    const bars = page.getByRole('list', { name: 'Last 2 runs of check, oldest first' }).getByRole('link');
    assert.equal(await bars.count(), 2);
    for (const [i, run] of [...before].reverse().entries()) {
      const bar = bars.nth(i);
      assert.match(
        (await bar.getAttribute('aria-label')) ?? '',
        new RegExp(`^Run ${run.runId.slice(0, 8)}: ${run.status}, `),
      );
      assert.match((await bar.getAttribute('class')) ?? '', new RegExp(`\\bstatus-${run.status}\\b`));
      assert.equal(await bar.getAttribute('href'), `/runs/${run.runId}`);
    }

    // Triggered from the page: its bars appear there, the failed attempt's and its retry's.
    await page.getByRole('button', { name: 'Trigger run' }).click();
    await page.getByRole('list', { name: /^Last [34] runs of check/ }).waitFor({ timeout: 30_000 });
    const after = await ended(4);
    const chart = page.getByRole('list', { name: 'Last 4 runs of check, oldest first' });
    await chart.getByRole('link', { name: new RegExp(`^Run ${after[0]?.runId.slice(0, 8)}: succeeded`) }).waitFor({
      timeout: 30_000,
    });
    assert.equal(await chart.locator('a.status-failed').count(), 2);
    assert.equal(await chart.locator('a.status-succeeded').count(), 2);
    // A bar's height is its run's duration against the longest shown (at least 4%, to be seen), and it says the duration.
    const measured = await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${check.jobId}`, { token: t.token });
    const oldestFirst: Array<{ runId: string; durationMs: number }> = [...measured.data].reverse();
    const longest = Math.max(1, ...oldestFirst.map((r) => r.durationMs));
    for (const [i, run] of oldestFirst.entries()) {
      const bar = chart.getByRole('link').nth(i);
      assert.match((await bar.getAttribute('aria-label')) ?? '', new RegExp(`^Run ${run.runId.slice(0, 8)}: `));
      assert.equal(
        /height:\s*(\d+%)/.exec((await bar.getAttribute('style')) ?? '')?.[1],
        `${Math.max(4, Math.round((run.durationMs / longest) * 100))}%`,
        `the bar of run ${run.runId.slice(0, 8)}, which took ${run.durationMs} ms of the longest ${longest} ms`,
      );
      assert.match((await bar.getAttribute('aria-label')) ?? '', new RegExp(`took ${formatDuration(run.durationMs)}$`));
    }
    await screenshot(page, shots, '13-job', 'desktop');

    // Its schedule paused from here: no next run until it is resumed.
    await page.getByRole('button', { name: 'Pause schedule' }).click();
    await next.getByText('paused').waitFor();
    await page.getByRole('button', { name: 'Resume schedule' }).click();
    await next.locator('time').waitFor();

    // A bar opens its run; the run opens by the 8 characters sov prints, and its address becomes the full id.
    const oldest = before[1]?.runId ?? '';
    await chart.getByRole('link').first().click();
    await page.getByRole('heading', { name: `Run of check ${oldest.slice(0, 8)}` }).waitFor();
    await page.goto(`${platform.controlPlane.url}/runs/${after[0]?.runId.slice(0, 8)}`);
    await page.waitForURL(`**/runs/${after[0]?.runId}`);
    await page.getByText('check passed on attempt 2').waitFor();
    await page.goto(`${platform.controlPlane.url}/runs/ffffffff`);
    await page.getByText('No recent run of your workspaces has an id starting with ffffffff.').waitFor();
    await context.close();
  });

  it('lists a job’s backfills on its page with their progress, and a run’s page shows its interval', async () => {
    const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: t.token });
    const check = jobs.data.find((j: { name: string }) => j.name === 'check');
    // New Year in Berlin, twice: each run fails its first attempt on purpose, and its retry succeeds.
    const backfill = await expectStatus(200, 'POST', `${platform.cp}/jobs/${check.jobId}/backfills`, {
      token: t.token,
      body: { from: '2023-12-31T23:00:00Z', to: '2025-12-31T23:00:00Z' },
    });
    assert.equal(backfill.toRun, 2);
    await platform.waitFor(
      async () =>
        (await call('GET', `${platform.cp}/backfills/${backfill.backfillId}`, { token: t.token })).body.status ===
        'done',
      'the backfill to end',
      60_000,
    );
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    await page.goto(`${platform.controlPlane.url}/workspaces/${ws}/jobs/${check.jobId}`);
    const row = page
      .getByTestId('backfills')
      .getByRole('row')
      .filter({ hasText: backfill.backfillId.slice(0, 8) });
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    assert.match(text, /2023-12-31 23:00 UTC → 2025-12-31 23:00 UTC/);
    assert.match(text, /done/);
    assert.match(text, /2\/2/, 'both intervals done');
    const runs = await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${check.jobId}&limit=200`, {
      token: t.token,
    });
    const run = runs.data.find(
      (r: { backfillId: string | null; intervalStart: string }) =>
        r.backfillId === backfill.backfillId && r.intervalStart === '2023-12-31T23:00:00.000Z',
    );
    await page.goto(`${platform.controlPlane.url}/runs/${run.runId}`);
    assert.equal(await page.getByTestId('run-interval').textContent(), '2023-12-31 23:00 UTC → 2024-12-31 23:00 UTC');
    await context.close();
  });

  it('triggers a run with parameters from a job’s page, and shows them on the run’s page, read from the data plane', async () => {
    const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: t.token });
    const greet = jobs.data.find((j: { name: string }) => j.name === 'greet');
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    await page.goto(`${platform.controlPlane.url}/workspaces/${ws}/jobs/${greet.jobId}`);
    await page.getByText('Trigger with parameters').first().click();
    const submit = page.getByRole('button', { name: 'Trigger with parameters' });
    // Nothing given: the data plane names the required parameter, and no run is queued.
    await submit.click();
    await page.getByText(/who is required/).waitFor();
    const none = await expectStatus(200, 'GET', `${platform.cp}/runs?jobId=${greet.jobId}`, { token: t.token });
    assert.equal(none.data.length, 0);

    const value = `from-the-dashboard-${randomBytes(4).toString('hex')}`;
    await page.getByLabel(/Parameters, one/).fill(`who=${value}`);
    await submit.click();
    let runId = '';
    await platform.waitFor(async () => {
      const listed = await call('GET', `${platform.cp}/runs?jobId=${greet.jobId}`, { token: t.token });
      runId = listed.body.data[0]?.status === 'succeeded' ? listed.body.data[0].runId : '';
      return runId !== '';
    }, 'the run with parameters to succeed');
    const run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: t.token });
    assert.ok(run.parametersId !== null && !JSON.stringify(run).includes(value), 'the control plane has the id only');
    await page.goto(`${platform.controlPlane.url}/runs/${runId}`);
    const shown = page.getByTestId('parameters');
    await shown.getByText(value).waitFor();
    assert.equal(await shown.locator('dt').textContent(), 'who');
    await page.getByText(`hello ${value}`).waitFor();
    await context.close();
  });

  it('opens an interactive job’s app from its run page, on the app’s own origin, let in as the signed-in user', async () => {
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    await page.getByRole('link', { name: 'dash-ws' }).click();
    await page.getByRole('button', { name: 'Trigger a run of explorer' }).click();
    const open = page.getByRole('button', { name: 'Open app' });
    await open.waitFor({ timeout: 60_000 });
    const [app] = await Promise.all([context.waitForEvent('page'), open.click()]);
    await app.getByRole('heading', { name: 'Explorer app' }).waitFor({ timeout: 30_000 });
    const opened = new URL(app.url());
    assert.match(opened.hostname, /^[0-9a-f-]{36}\.apps\.localhost$/, 'an origin of its own');
    assert.equal(`${opened.pathname}${opened.search}`, '/', 'the ticket left the address once the session was set');
    await app.close();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page
      .getByRole('dialog', { name: 'Cancel this run?' })
      .getByRole('button', { name: 'Yes, cancel the run' })
      .click();
    await page.getByRole('status', { name: 'Run status' }).getByText('cancelled', { exact: true }).waitFor({
      timeout: 60_000,
    });
    await context.close();
  });

  it('lays the main pages out at a phone’s width', async () => {
    const context = await newContext(chromium.browser, 'phone');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    const fits = async (what: string) => {
      // A string, evaluated in the page: this file is type-checked without the DOM's types.
      const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
      assert.ok(overflow <= 0, `${what} is ${overflow}px wider than the phone`);
    };
    await fits('organizations');
    await screenshot(page, shots, '02-organizations', 'phone');
    await page.getByRole('link', { name: 'dash-ws' }).click();
    await page.getByRole('button', { name: 'Trigger a run of live' }).waitFor();
    await fits('jobs');
    await screenshot(page, shots, '03-jobs', 'phone');
    await page.getByRole('link', { name: /Last run of live: succeeded/ }).click();
    await page.getByRole('log', { name: 'Run log' }).getByText(lineText(6)).waitFor();
    await fits('run');
    await screenshot(page, shots, '05-run-succeeded', 'phone');
    await page.getByRole('link', { name: 'dash-ws' }).click();
    await page.getByRole('link', { name: 'Runs' }).click();
    await page
      .getByRole('link', { name: /^Run [0-9a-f]{8} of live$/ })
      .first()
      .waitFor();
    await fits('runs');
    await screenshot(page, shots, '06-runs', 'phone');
    await page.getByRole('link', { name: 'Variables' }).click();
    await page.getByRole('table').getByText('API_TOKEN', { exact: true }).waitFor();
    await fits('variables');
    await screenshot(page, shots, '07-variables', 'phone');
    await page.goto(`${platform.controlPlane.url}/organizations/${t.organizationId}/regions`);
    await page.getByRole('table').getByText('eu-1', { exact: true }).waitFor();
    await fits('regions');
    await screenshot(page, shots, '08-regions', 'phone');
    await page.goto(`${platform.controlPlane.url}/organizations/${t.organizationId}`);
    await page.getByRole('table').getByText('dash-ws', { exact: true }).waitFor();
    await fits('organization settings');
    await screenshot(page, shots, '11-organization-settings', 'phone');
    await page.goto(`${platform.controlPlane.url}/workspaces/${ws}`);
    await page.getByRole('link', { name: 'check', exact: true }).click();
    await page.getByRole('list', { name: /^Last \d+ runs of check/ }).waitFor();
    await fits('job');
    await screenshot(page, shots, '13-job', 'phone');
    await context.close();
  });

  it('shows a viewer no action their role may not take, and the API refuses it anyway', async () => {
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, viewer.email);
    await page.getByRole('link', { name: 'dash-ws' }).click();
    await page.getByRole('link', { name: /Last run of live/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: /Trigger a run/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /schedule of/ }).count(), 0);
    await page.getByRole('link', { name: 'check', exact: true }).click();
    await page.getByRole('list', { name: /^Last \d+ runs of check/ }).waitFor();
    // What a role may do is known once its workspace is: the crumbs name it then.
    await page.locator('.crumbs').getByRole('link', { name: 'dash-ws' }).waitFor();
    assert.equal(
      await page
        .getByRole('button')
        .filter({ hasText: /Trigger|schedule/ })
        .count(),
      0,
      'a viewer is shown no Trigger, Pause or Resume',
    );
    await page.goBack();
    await page.getByRole('link', { name: 'Variables' }).click();
    await page.getByRole('table').getByText('API_TOKEN', { exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save variable' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete API_TOKEN' }).count(), 0);
    await page.getByText('Your role (viewer) may read variables, not change them.').waitFor();
    await screenshot(page, shots, '10-variables-as-viewer', 'desktop');
    await context.close();

    const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/jobs`, { token: viewer.token });
    const live = jobs.data.find((j: { name: string }) => j.name === 'live');
    const refused = await call('POST', `${platform.cp}/jobs/${live.jobId}/runs`, { token: viewer.token });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'insufficient_role');
    const token = await call('POST', `${platform.cp}/workspaces/${ws}/dataplane-token`, {
      token: viewer.token,
      body: { scopes: ['variables:write'] },
    });
    assert.equal(token.body.code, 'scope_not_allowed');
  });
  it('creates an organization that keeps its data in a region, opens its new workspace with no error, and lists each workspace with its region in its settings', async () => {
    // A second workspace of the tenant's organization, in the other region.
    await platform.workspace(t.token, t.organizationId, 'us', 'dash-us');
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);

    // A new organization chooses its data region among the shared ones, or none, for good.
    const newOrganization = page.getByRole('region', { name: 'New organization' });
    const dataRegion = newOrganization.getByLabel('Data region (cannot be changed later)');
    await dataRegion.locator('option', { hasText: 'eu' }).waitFor({ state: 'attached' });
    assert.deepEqual(await dataRegion.locator('option').allTextContents(), [
      'None: each workspace picks its region',
      'eu',
      'us',
    ]);
    await newOrganization.getByLabel('Organization name').fill('eu only org');
    await dataRegion.selectOption({ label: 'eu' });
    await newOrganization.getByRole('button', { name: 'Create organization' }).click();
    const card = page.getByRole('region', { name: 'eu only org' });
    await card.getByText('data region eu').waitFor();
    const listed = await expectStatus(200, 'GET', `${platform.cp}/organizations`, { token: t.token });
    const euOnly = listed.data.find((o: { name: string }) => o.name === 'eu only org');
    assert.equal(euOnly.dataResidency, 'eu', 'created with the region chosen');
    assert.equal(euOnly.regionId, platform.dp('eu-1').regionId);

    // Its workspaces are offered that region only; the new one opens with no error.
    await card.getByText('New workspace').click();
    const region = card.getByLabel('Region (permanent)');
    await region.locator('option', { hasText: 'eu' }).waitFor({ state: 'attached' });
    assert.deepEqual(await region.locator('option').allTextContents(), ['eu'], 'only the organization’s region');
    await card.getByLabel('Workspace name').fill('eu-first');
    await card.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('heading', { name: 'eu-first', level: 1 }).waitFor();
    await page.getByText('No jobs yet.').waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'no error on the workspace a moment old');
    // Its variables are read from its data plane at once.
    await page.getByRole('link', { name: 'Variables' }).click();
    await page.getByText('No variables yet.').waitFor();
    assert.equal(await page.getByRole('alert').count(), 0, 'no error from its data plane either');

    // The organizations' settings: each workspace with its region and data plane.
    await page.getByRole('link', { name: 'Organizations' }).first().click();
    await page.getByRole('link', { name: 'Settings of dash org' }).click();
    await page.getByRole('heading', { name: 'Organization settings', level: 1 }).waitFor();
    const general = page.getByRole('region', { name: 'General' });
    await general.getByText('dash org', { exact: true }).waitFor();
    await general.getByText(/^None: each workspace picks its region · chosen at creation/).waitFor();
    const dashWs = await rowCells(page, 'dash-ws');
    assert.deepEqual(dashWs.slice(0, 2), ['dash-ws', 'eu'], `dash-ws's row: ${dashWs.join(' | ')}`);
    assert.match(dashWs[2] ?? '', /^eu-1\b/);
    const dashUs = await rowCells(page, 'dash-us');
    assert.deepEqual(dashUs.slice(0, 2), ['dash-us', 'us'], `dash-us's row: ${dashUs.join(' | ')}`);
    assert.match(dashUs[2] ?? '', /^us-1\b/);
    await screenshot(page, shots, '11-organization-settings', 'desktop');

    await page.getByRole('link', { name: 'Organizations' }).first().click();
    await page.getByRole('link', { name: 'Settings of eu only org' }).click();
    await general.getByText('eu only org', { exact: true }).waitFor();
    await general.getByText(/^eu · chosen at creation/).waitFor();
    const euFirst = await rowCells(page, 'eu-first');
    assert.deepEqual(euFirst.slice(0, 2), ['eu-first', 'eu'], `eu-first's row: ${euFirst.join(' | ')}`);
    await context.close();
  });

  it('shows a moved workspace as moved, with a link to where it went, and the new one where it came from', async () => {
    // A move of a workspace never deployed (nothing to copy): started and completed through the API, as sov does.
    const leaving = await platform.workspace(t.token, t.organizationId, 'us', 'leaving-ws');
    const started = await expectStatus(200, 'POST', `${platform.cp}/workspaces/${leaving.workspaceId}/move`, {
      token: t.token,
      body: { regionId: platform.dp('eu-1').regionId },
    });
    await expectStatus(200, 'POST', `${platform.cp}/workspaces/${leaving.workspaceId}/move/complete`, {
      token: t.token,
    });
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    const listed = page
      .getByRole('listitem')
      .filter({ has: page.getByRole('link', { name: 'leaving-ws', exact: true }) });
    await listed.getByText('moved to leaving-ws-eu in eu').waitFor();
    await page.getByRole('link', { name: 'leaving-ws', exact: true }).click();
    const note = page.getByRole('status', { name: 'Moved', exact: true });
    await note.getByText(/^Moved to leaving-ws-eu in eu on .+ It runs nothing any more/).waitFor();
    await page
      .getByRole('heading', { name: /leaving-ws/ })
      .getByText('moved', { exact: true })
      .waitFor();
    await screenshot(page, shots, '13-moved-workspace', 'desktop');
    await note.getByRole('link', { name: 'leaving-ws-eu' }).click();
    await page.waitForURL(`**/workspaces/${started.toWorkspaceId}`);
    await page
      .getByRole('heading', { name: /leaving-ws-eu/ })
      .getByText('region eu')
      .waitFor();
    const here = page.getByRole('status', { name: 'Moved here' });
    await here.getByText('Moved here from leaving-ws in us.').waitFor();
    assert.equal(
      await page.getByRole('status', { name: 'Moved', exact: true }).count(),
      0,
      'the new workspace is not moved',
    );
    await context.close();
  });

  it('says a queued run waits for its data plane to come online, and stops saying so once it has', async () => {
    // Airbyte's guide: a region and a data plane made, the data plane not deployed yet.
    const region = await expectStatus(200, 'POST', `${platform.cp}/regions`, {
      token: platform.adminToken,
      body: { name: 'late', organizationId: platform.defaultOrganizationId },
    });
    const created = await expectStatus(200, 'POST', `${platform.cp}/dataplanes`, {
      token: platform.adminToken,
      body: { name: 'late-1', regionId: region.regionId },
    });
    const workspace = await expectStatus(200, 'POST', `${platform.cp}/workspaces`, {
      token: t.token,
      body: { name: 'late-ws', organizationId: t.organizationId, regionId: region.regionId },
    });
    // A job needs a deployment, which only a data plane reports: this test speaks for the
    // data plane with its own credentials, without it ever registering (its health stays unknown).
    const { access_token: dpToken } = await expectStatus(
      200,
      'POST',
      `${platform.controlPlane.url}${InternalPaths.token}`,
      {
        body: { client_id: created.clientId, client_secret: created.clientSecret },
      },
    );
    await expectStatus(200, 'POST', `${platform.controlPlane.url}${InternalPaths.deploymentReport}`, {
      token: dpToken,
      body: {
        protocolVersion,
        deploymentId: randomUUID(),
        workspaceId: workspace.workspaceId,
        digest: `sha256:${'1'.repeat(64)}`,
        sizeBytes: 1,
        createdBy: t.userId,
        createdAt: new Date().toISOString(),
        jobs: [
          {
            name: 'hello',
            kind: 'batch',
            trigger: { type: 'manual' },
            timezone: 'UTC',
            timeoutSeconds: 60,
            retries: 0,
          },
        ],
      },
    });
    const jobs = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${workspace.workspaceId}/jobs`, {
      token: t.token,
    });
    const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.data[0].jobId}/runs`, { token: t.token });
    const health = await expectStatus(200, 'GET', `${platform.cp}/dataplanes/${created.dataplaneId}/health`, {
      token: t.token,
    });
    assert.equal(health.status, 'unknown');

    const words = 'Queued: the data plane late-1 has not come online yet; the run starts when it does.';
    const context = await newContext(chromium.browser, 'desktop');
    const page = await context.newPage();
    await signIn(page, platform.controlPlane.url, t.email);
    await page.getByRole('link', { name: 'late-ws' }).click();
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('link', { name: `Run ${run.runId.slice(0, 8)} of hello` }).waitFor();
    await page.getByText(words).waitFor();
    await page.getByRole('link', { name: `Run ${run.runId.slice(0, 8)} of hello` }).click();
    const status = page.getByRole('status', { name: 'Run status' });
    await status.getByText('queued', { exact: true }).waitFor();
    await page.getByText(words).waitFor();
    await screenshot(page, shots, '12-run-waiting-for-its-data-plane', 'desktop');

    // The data plane is deployed and registers: it claims the run, and the note is gone.
    const plane = await platform.prepareDataPlane('late-1', region.regionId, created);
    platform.dataplanes.set(plane.name, { ...plane, service: await platform.startDataPlane(plane) });
    await status.getByText('queued', { exact: true }).waitFor({ state: 'detached', timeout: 60_000 });
    assert.equal(await page.getByText(words).count(), 0, 'no longer said once the run left the queue');
    await context.close();
  });
});
