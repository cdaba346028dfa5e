import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flowTarget } from '@sovereign/server-kit/testing';
import { sov, sovOk } from '../support/cli.ts';
import { call, dataScopes, expectStatus, Platform } from '../support/platform.ts';
import { endOf, readEvents } from '../support/projects.ts';

/**
 * Secret masking on the real platform: a job prints its secrets in every form a program
 * commonly gives them (encoded, escaped, in another case, written in pieces, inside a
 * line too long to be kept whole), and a user reading its logs (streamed, stored, and
 * through `sov logs`) finds none of them. And `sov vars set --secret` takes a secret
 * only where no other user of the machine reads it: stdin or a file, never argv.
 */

/** Every character an encoder treats apart: space, quotes, &, <, /, +, %, =, non-ASCII. */
const secret = `sk_live "mask" <me> & 'now'/+%=ü-9f8e7d6c5b4a`;
const pem =
  '-----BEGIN SOV TEST KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END SOV TEST KEY-----';
/** Too short to be masked: the log says so. */
const pin = '42';
/** Longest line kept whole (256 KiB); the job prints its secret 10 characters before it. */
const cutAt = 256 * 1024;

/** The forms the job prints, each on a line of its own as `form:<name>:<text>`. */
const leakJs = `
const s = process.env.API_SECRET;
const pem = process.env.PEM_SECRET;
const pause = () => new Promise((r) => setTimeout(r, 50));
const html = (t) => t.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
const forms = {
  plain: s,
  lower: s.toLowerCase(),
  upper: s.toUpperCase(),
  base64: Buffer.from(s).toString('base64'),
  base64url: Buffer.from(s).toString('base64url'),
  'base64-inner0': Buffer.from(s + '!tail').toString('base64'),
  'base64-inner1': Buffer.from('a' + s + '!tail').toString('base64'),
  'base64-inner2': Buffer.from('ab' + s + '!tail').toString('base64'),
  'base64url-inner1': Buffer.from('user:' + s).toString('base64url'),
  'echo-base64': Buffer.from(s + '\\n').toString('base64'),
  hex: Buffer.from(s).toString('hex'),
  HEX: Buffer.from(s).toString('hex').toUpperCase(),
  'url-%20': 'https://example.test/?token=' + encodeURIComponent(s),
  'url-plus': new URLSearchParams({ token: s }).toString(),
  json: JSON.stringify({ token: s }),
  'json-in-json': JSON.stringify({ body: JSON.stringify({ token: s }) }),
  html: '<input value="' + html(s) + '">',
  'pem-json': JSON.stringify({ key: pem }),
};
(async () => {
  for (const [name, text] of Object.entries(forms)) console.log('form:' + name + ':' + text);
  for (const line of pem.split('\\n')) console.log('form:pem:' + line);
  console.error('form:stderr:' + s);
  // Across two writes, with no newline between them.
  process.stdout.write('form:split:' + s.slice(0, 9));
  await pause();
  process.stdout.write(s.slice(9) + '\\n');
  // From 10 characters before the place where a line over 256 KiB is cut, in two writes,
  // the line still open when it goes past 256 KiB.
  process.stdout.write('long:' + 'x'.repeat(${cutAt} - 'long:'.length - 10) + s.slice(0, 7));
  await pause();
  process.stdout.write(s.slice(7) + ' end of the long line');
  await pause();
  process.stdout.write('\\n');
  console.log('pin:' + process.env.PIN);
  // A state the data plane cannot store, and says why in the log, quoting the member.
  require('node:fs').writeFileSync(process.env.SOV_STATE_FILE, JSON.stringify({ [s]: '\\u0000' }));
})();
`;

/**
 * What must never be read back (compared ignoring the case of ASCII letters): each secret
 * (and each line of the multi-line one) as is, base64 and base64url (whole, and the part
 * inside a longer encoding that depends on its bytes alone), hex, URL-encoded and JSON-
 * and HTML-escaped, the same for it in upper case; and, for the line cut at 256 KiB, each
 * half of the secret on either side of the cut. Derived here from the values, not taken
 * from the masker, so a form the masker misses is caught.
 */
function forbidden(): string[] {
  const values = [secret, secret.toUpperCase(), ...pem.split('\n').filter((line) => line.length > 20), pem];
  const out = [secret.slice(0, 10), secret.slice(10)];
  for (const value of values) {
    const bytes = Buffer.from(value);
    out.push(value, bytes.toString('hex'), encodeURIComponent(value), JSON.stringify(value).slice(1, -1));
    out.push(new URLSearchParams({ v: value }).toString().slice(2));
    out.push(value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;'));
    for (const skip of [0, 1, 2]) {
      const groups = bytes.subarray(skip, skip + Math.floor((bytes.length - skip) / 3) * 3);
      out.push(groups.toString('base64'), groups.toString('base64url'));
    }
  }
  return [...new Set(out)].filter((form) => !form.includes('\n')).map((form) => form.toLowerCase());
}

/** The forbidden texts found in lines, with the line's start, for a readable failure. */
function leaks(lines: string[]): string[] {
  const found: string[] = [];
  for (const line of lines) {
    const lower = line.toLowerCase();
    for (const form of forbidden()) if (lower.includes(form)) found.push(`${form} in: ${line.slice(0, 120)}`);
  }
  return found;
}

const target = flowTarget();

describe(`secret masking in a run's logs, real processes [${target.name}]`, () => {
  let platform: Platform;
  let t: Awaited<ReturnType<Platform['tenant']>>;
  let token: string;
  let dp: string;
  let runId: string;
  let streamed: string[];
  let config: string;

  before(async () => {
    platform = await Platform.start(target);
    t = await platform.tenant('eu', 'masking');
    const issued = await platform.scopedToken(t.token, t.workspace.workspaceId, dataScopes);
    token = issued.token;
    dp = `${issued.dataplane.url}/api/v1`;
    await platform.waitUntilHosted(t.token, t.workspace.workspaceId);
    for (const [name, value] of Object.entries({ API_SECRET: secret, PEM_SECRET: pem, PIN: pin })) {
      await expectStatus(200, 'PUT', `${dp}/workspaces/${t.workspace.workspaceId}/variables/${name}`, {
        token,
        body: { value, secret: true },
      });
    }
    const { jobs } = await platform.deploy(t.token, t.workspace.workspaceId, {
      'sovereign.yaml': 'jobs:\n  - name: leak\n    run: node leak.js\n',
      'leak.js': leakJs,
    });
    const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.leak}/runs`, { token: t.token });
    runId = run.runId;
    await platform.waitFor(
      async () => (await call('GET', `${dp}/runs/${runId}/logs`, { token })).status === 200,
      'the run to reach its data plane',
    );
    const events = await readEvents(
      await fetch(`${dp}/runs/${runId}/logs?follow=true`, { headers: { authorization: `Bearer ${token}` } }),
    );
    assert.deepEqual(endOf(events), { event: 'end', data: { status: 'succeeded', exitCode: 0 } });
    streamed = events.filter((e) => e.event === 'line').map((e) => e.data.line);
    config = await mkdtemp(join(tmpdir(), 'sov-masking-'));
  });
  after(async () => {
    await platform?.stop();
    if (config !== undefined) await rm(config, { recursive: true, force: true });
  });

  it('streams none of its secrets, in any form the job printed them', () => {
    const printed = streamed.filter((line) => line.startsWith('form:'));
    const names = new Set(printed.map((line) => line.split(':')[1]));
    assert.equal(names.size, 21, [...names].join(' '));
    for (const line of printed) assert.ok(line.includes('********'), `not masked: ${line}`);
    assert.deepEqual(leaks(streamed), []);
  });

  it('masks a secret across the cut of a line over 256 KiB, and cuts after masking', () => {
    const at = streamed.findIndex((line) => line.startsWith('long:'));
    const [first, second] = [streamed[at] ?? '', streamed[at + 1] ?? ''];
    assert.equal(first.length, cutAt, 'the first piece is 256 KiB');
    assert.equal(first.slice(-20), `${'x'.repeat(10)}******** e`, 'masked where it began, before the cut');
    assert.equal(first + second, `long:${'x'.repeat(cutAt - 15)}******** end of the long line`);
  });

  it('stores none of them: the logs a user reads back through the API and `sov logs`', async () => {
    const stored = await expectStatus(200, 'GET', `${dp}/runs/${runId}/logs?limit=10000`, { token });
    const lines: string[] = stored.data.map((l: { line: string }) => l.line);
    assert.deepEqual(lines, streamed, 'what is stored is what was streamed');
    assert.deepEqual(leaks(lines), []);

    const env = { SOV_TOKEN: t.token, SOV_API_URL: new URL(platform.cp).origin };
    const read = await sov(config, ['logs', runId, '--json'], { env });
    assert.equal(read.code, 0, read.stderr);
    const cli: string[] = JSON.parse(read.stdout).lines.map((l: { line: string }) => l.line);
    assert.deepEqual(cli, streamed);
    const followed = await sov(config, ['logs', runId, '--follow'], { env });
    assert.equal(followed.code, 0, followed.stderr);
    assert.deepEqual(leaks(followed.stdout.split('\n')), []);
    assert.ok(followed.stdout.includes('form:plain:********'), followed.stdout.slice(0, 200));
  });

  it('masks a secret in what the data plane itself says in the log', () => {
    const said = streamed.filter((line) => line.startsWith('sovereign: ') && line.includes('state not saved'));
    assert.equal(said.length, 1, 'the state the job wrote cannot be stored, and the log says so');
    assert.ok(said[0]?.includes('********'), said[0]);
    assert.deepEqual(leaks(said), []);
  });

  it('says in the log which secrets are too short to be masked, by name', () => {
    assert.ok(streamed.includes('pin:42'), 'a two-character secret is left as it is');
    assert.equal(
      streamed[0],
      'sovereign: secrets shorter than 4 characters are not masked in this log: PIN',
      'said before the job prints anything',
    );
    assert.ok(!streamed.some((line) => line.includes('sovereign') && line.includes(pin)), 'never its value');
  });

  it('takes a secret with `sov vars set` from stdin or a file, never from the command line, and the job gets it as given', async () => {
    // Last: it deploys over the leaking job.
    const ws = t.workspace.workspaceId as string;
    const env = { SOV_TOKEN: t.token, SOV_API_URL: new URL(platform.cp).origin, SOV_WORKSPACE: ws };
    const given = { FROM_STDIN: 'sk-stdin-2e7b90c4d1', FROM_FILE: 'sk-file-6a05f3be88' };
    // On the command line it would sit in the process list and the shell's history: refused, nothing sent.
    for (const args of [
      ['vars', 'set', 'ON_ARGV', 'sk-argv-4c1d8e77', '--secret'],
      ['vars', 'set', 'ON_ARGV=sk-argv-4c1d8e77', '--secret'],
    ]) {
      const refused = await sov(config, args, { env });
      assert.equal(refused.code, 2, `sov ${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, /^Error: A secret's value is not taken on the command line/m);
    }
    await sovOk(config, ['vars', 'set', 'FROM_STDIN', '--secret'], { env, input: `${given.FROM_STDIN}\n` });
    const file = join(config, 'secret.txt');
    await writeFile(file, `${given.FROM_FILE}\n`, { mode: 0o600 });
    await sovOk(config, ['vars', 'set', 'FROM_FILE', '--secret', '--from-file', file], { env });
    const listed = await expectStatus(200, 'GET', `${dp}/workspaces/${ws}/variables`, { token });
    assert.deepEqual(
      listed.data
        .filter((v: { name: string }) => v.name.startsWith('FROM_') || v.name === 'ON_ARGV')
        .map((v: { name: string; secret: boolean }) => [v.name, v.secret]),
      [
        ['FROM_FILE', true],
        ['FROM_STDIN', true],
      ],
      'nothing was set from the refused command lines',
    );

    // The job compares each secret with what was given (a line break dropped), and prints the result.
    const { jobs } = await platform.deploy(t.token, ws, {
      'sovereign.yaml': 'jobs:\n  - name: given\n    run: node given.js\n',
      'given.js': `for (const [name, value] of Object.entries(${JSON.stringify(given)}))
  console.log(name + ': ' + (process.env[name] === value ? 'as given' : 'changed'));`,
    });
    const run = await platform.runToEnd(t.token, jobs.given as string);
    assert.equal(run.status, 'succeeded');
    const log = await expectStatus(200, 'GET', `${dp}/runs/${run.runId}/logs`, { token });
    assert.deepEqual(
      log.data.map((l: { line: string }) => l.line).filter((line: string) => line.startsWith('FROM_')),
      ['FROM_STDIN: as given', 'FROM_FILE: as given'],
    );
  });
});
