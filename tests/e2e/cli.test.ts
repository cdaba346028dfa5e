import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@sovereign/server-kit/testing';
import {
  ansiEscape,
  assertPlain,
  type CliDev,
  cleanEnv,
  type DevPlatform,
  onTerminal,
  parsed,
  quote,
  repoRoot,
  sov,
  sovBin,
  sovOk,
  startCliDev,
  stopCliDev,
} from '../support/cli.ts';

const secret = 'sk-cli-7c1e5a90d2';
const hello = join(repoRoot, 'examples/hello');

/**
 * The real `sov` as a subprocess against a real `sov dev` (what `npm start` runs), each
 * user with a temporary configuration directory: what a person sees in their first ten
 * minutes, and the same through --json. Administration and day-to-day operations are in
 * cli-operations.test.ts, against a `sov dev` of their own (the two run side by side).
 */
describe('the sov CLI against sov dev, real processes [pglite]', () => {
  let cli: Partial<CliDev> = {};
  let scratch: string;
  let dev: DevPlatform;
  let password: string;

  before(async () => {
    cli = await startCliDev();
    ({ scratch, dev, password } = cli as CliDev);
  });
  after(() => stopCliDev(cli));

  it('signs in interactively on a terminal: asks the email, hides the password, saves the session 0600', async () => {
    const config = join(scratch, 'tty');
    const terminal = onTerminal(['login'], { SOV_CONFIG_DIR: config, SOV_API_URL: dev.url });
    await terminal.waitFor('Email (admin@localhost): ');
    terminal.type('\r'); // the default
    await terminal.waitFor('Password: ');
    terminal.type(`${password}\r`);
    const code = await terminal.exitCode();
    const screen = terminal.screen();
    assert.equal(code, 0, screen);
    assert.match(screen, /Signed in to http:\/\/127\.0\.0\.1:\d+ as .*admin@localhost/);
    assert.ok(!screen.includes(password), 'the password is never echoed');
    assert.match(screen, ansiEscape, 'on a terminal, output is coloured');
    const file = join(config, 'config.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(config)).mode & 0o777, 0o700);
    const saved = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(saved.profiles.default.apiUrl, dev.url, 'the API URL is saved in the profile');
    assert.match(saved.profiles.default.accessToken, /\S{20,}/);
  });

  it('walks the first ten minutes in human output: login, workspace in eu, variables, deploy, trigger --follow, logs, outputs, state, runs', async () => {
    const config = join(scratch, 'human');
    const run = async (args: string[], input?: string) => {
      const result = await sovOk(config, args, input === undefined ? {} : { input });
      assertPlain(result, `sov ${args.join(' ')}`);
      assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), 'the secret is never printed');
      return result;
    };

    const login = await run(['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], password);
    assert.match(login.stdout, new RegExp(`Signed in to ${dev.url} as admin@localhost \\(profile default`));
    assert.match(login.stdout, /Next: sov workspace create <name> --region eu/);

    const whoami = await run(['whoami']);
    assert.match(whoami.stdout, /^user\s+admin@localhost \(instance administrator\)$/m);
    assert.match(whoami.stdout, new RegExp(`^control plane\\s+${dev.url}$`, 'm'), 'the saved API URL is used');

    const created = await run(['workspace', 'create', 'demo', '--region', 'eu']);
    assert.match(created.stdout, /Created workspace demo in region eu \(data plane eu-1, organization /);
    assert.match(created.stdout, /It is now your current workspace/);
    const workspaces = await run(['workspace', 'list']);
    assert.match(workspaces.stdout, /^\s+NAME\s+REGION\s+ORGANIZATION\s+CREATED\s+ID$/m);
    assert.match(workspaces.stdout, /^\*\s+demo\s+eu\s+\S+.*\s+(just now|\d+s ago)\s+[0-9a-f-]{36}$/m);

    assert.match(
      (await run(['vars', 'set', 'GREETING', 'Bonjour'])).stdout,
      /Set GREETING in workspace demo \(plain\)\./,
    );
    assert.match(
      (await run(['vars', 'set', 'API_TOKEN', '--secret'], `${secret}\n`)).stdout,
      /Set API_TOKEN in workspace demo \(secret: stored encrypted in region eu, never shown again\)\./,
    );
    const vars = await run(['vars', 'list']);
    assert.match(vars.stdout, /^NAME\s+KIND\s+VALUE\s+UPDATED$/m);
    assert.match(vars.stdout, /^API_TOKEN\s+secret\s+•+\s+/m);
    assert.match(vars.stdout, /^GREETING\s+plain\s+Bonjour\s+/m);

    const deployed = await run(['deploy', hello]);
    assert.match(
      deployed.stdout,
      /Deployed \S*examples\/hello \(2 files, [\d.]+ k?B\) to workspace demo \(region eu\)/,
    );
    assert.match(deployed.stdout, /^\s+\+ hello\s+added\s+manual$/m);
    assert.match(deployed.stdout, /Next: sov job trigger hello --follow/);

    // A dry run of a changed project says what would change, and changes nothing.
    const changed = join(scratch, 'changed');
    await cp(hello, changed, { recursive: true });
    await writeFile(
      join(changed, 'sovereign.yaml'),
      `${await readFile(join(hello, 'sovereign.yaml'), 'utf8')}  - name: extra\n    run: node hello.mjs\n    every: 1h\n`,
    );
    const dry = await run(['deploy', changed, '--dry-run']);
    assert.match(dry.stdout, /Dry run: nothing was stored\./);
    assert.match(dry.stdout, /^\s+\+ extra\s+added\s+every 1h$/m);
    assert.match(dry.stdout, /^\s+= hello\s+unchanged\s+manual$/m);
    const jobs = await run(['job', 'list']);
    assert.match(jobs.stdout, /^NAME\s+KIND\s+TRIGGER\s+NEXT RUN\s+TIMEOUT\s+RETRIES\s+LAST RUN$/m);
    assert.match(jobs.stdout, /^hello\s+batch\s+manual\s+-\s+5m\s+0\s+never$/m);
    assert.doesNotMatch(jobs.stdout, /extra/, 'the dry run deployed nothing');

    const triggered = await run(['job', 'trigger', 'hello', '--follow']);
    assert.deepEqual(triggered.stdout.trimEnd().split('\n'), [
      'Bonjour from hello, run number 1.',
      'Calling the API with token ********',
      'Wrote report.json; the state now counts 1 run(s).',
    ]);
    assert.match(triggered.stderr, /^Triggered hello: run [0-9a-f]{8}\. Following its logs…$/m);
    // One duration (the process's start to end), milliseconds under a second, the same everywhere.
    const ended = /^✓ Run [0-9a-f]{8} of hello succeeded \(exit 0\) in (\d+ ms|\d+\.\d s)$/m.exec(triggered.stderr);
    assert.ok(ended, triggered.stderr);
    const took = ended[1] ?? '';

    const runs = await run(['run', 'list']);
    assert.match(runs.stdout, /^RUN\s+JOB\s+STATUS\s+TRIGGER\s+QUEUED\s+DURATION\s+EXIT$/m);
    const row = /^([0-9a-f]{8})\s+hello\s+succeeded\s+manual\s+(just now|\d+s ago)\s+(.+?)\s+0$/m.exec(runs.stdout);
    assert.ok(row, runs.stdout);
    const shortRunId = row[1] ?? '';
    assert.equal(row[3], took, 'run list says the duration the follow said');

    const logs = await run(['logs', shortRunId]);
    assert.equal(logs.stdout, triggered.stdout, 'the stored logs are what was streamed');

    const outputs = await run(['outputs', 'list', shortRunId]);
    assert.match(outputs.stdout, /^report\.json\s+\d+ B\s+(just now|\d+s ago)\s+sha256:[0-9a-f]{64}$/m);
    const report = JSON.parse((await run(['outputs', 'get', shortRunId, 'report.json'])).stdout);
    assert.equal(report.greeting, 'Bonjour');
    assert.equal(report.runs, 1);
    const saved = join(scratch, 'report.json');
    assert.match((await run(['outputs', 'get', shortRunId, 'report.json', '-o', saved])).stdout, /Saved report\.json/);
    assert.deepEqual(JSON.parse(await readFile(saved, 'utf8')), report);

    const state = await run(['state', 'get', 'hello']);
    assert.equal(JSON.parse(state.stdout).runs, 1);
    assert.match(state.stderr, /saved (just now|\d+s ago) by run [0-9a-f]{8}/);

    const info = await run(['run', 'info', shortRunId]);
    assert.match(info.stdout, /^status\s+succeeded$/m);
    assert.match(info.stdout, /^exit code\s+0$/m);
    assert.match(info.stdout, new RegExp(`^duration\\s+${took.replace('.', '\\.')}$`, 'm'), 'and so does run info');
  });

  it('does the same with --json, every answer parsed', async () => {
    const config = join(scratch, 'json');
    const run = async (args: string[], input?: string) =>
      sovOk(config, ['--json', ...args], input === undefined ? {} : { input });

    const login = parsed(
      await run(['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], password),
    );
    assert.equal(login.email, 'admin@localhost');
    assert.equal(login.apiUrl, dev.url);
    assert.equal(login.profile, 'default');

    const workspace = parsed(await run(['workspace', 'create', 'demo-json', '--region', 'eu']));
    assert.equal(workspace.name, 'demo-json');
    assert.equal(workspace.dataResidency, 'eu');
    assert.equal(workspace.current, true);
    const info = parsed(await run(['workspace', 'info']));
    assert.equal(info.workspaceId, workspace.workspaceId);
    assert.equal(info.dataplaneName, 'eu-1');

    assert.deepEqual(
      (({ name, secret, value }) => ({ name, secret, value }))(parsed(await run(['vars', 'set', 'GREETING=Hallo']))),
      { name: 'GREETING', secret: false, value: 'Hallo' },
    );
    const setSecret = parsed(await run(['vars', 'set', 'API_TOKEN', '--secret'], secret));
    assert.equal(setSecret.secret, true);
    assert.equal(setSecret.value, undefined, 'a secret is never sent back');
    const vars = parsed(await run(['vars', 'list']));
    assert.deepEqual(
      vars.data.map((v: { name: string; secret: boolean; value?: string }) => [v.name, v.secret, v.value ?? null]),
      [
        ['API_TOKEN', true, null],
        ['GREETING', false, 'Hallo'],
      ],
    );

    const deployed = parsed(await run(['deploy', hello]));
    assert.deepEqual(deployed.changes, { added: ['hello'], updated: [], unchanged: [], archived: [] });
    assert.equal(deployed.dryRun, false);
    assert.equal(deployed.reported, true);
    assert.deepEqual(deployed.files, ['hello.mjs', 'sovereign.yaml']);

    // One JSON object per line: the run, each log line, the end.
    const followed = await run(['job', 'trigger', 'hello', '--follow']);
    assert.equal(followed.stderr, '', 'nothing for people on stderr with --json');
    const events = followed.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(events[0].type, 'run');
    assert.equal(events[0].jobName, 'hello');
    const runId: string = events[0].runId;
    assert.deepEqual(
      events.filter((e) => e.type === 'line').map((e) => e.line),
      [
        'Hallo from hello, run number 1.',
        'Calling the API with token ********',
        'Wrote report.json; the state now counts 1 run(s).',
      ],
    );
    const { durationMs, ...end } = events.at(-1);
    assert.deepEqual(end, { type: 'end', runId, job: 'hello', status: 'succeeded', exitCode: 0 });
    assert.equal(parsed(await run(['run', 'info', runId])).durationMs, durationMs, 'one duration, followed or asked');

    const logs = parsed(await run(['logs', runId]));
    assert.equal(logs.runId, runId);
    assert.equal(logs.status, 'succeeded');
    assert.equal(logs.lines.length, 3);
    assert.ok(!JSON.stringify(logs).includes(secret));

    const outputs = parsed(await run(['outputs', 'list', runId]));
    assert.deepEqual(
      outputs.data.map((o: { path: string }) => o.path),
      ['report.json'],
    );
    const file = parsed(await run(['outputs', 'get', runId, 'report.json']));
    assert.equal(JSON.parse(file.content).greeting, 'Hallo');

    const state = parsed(await run(['state', 'get', 'hello']));
    assert.equal(state.state.runs, 1);
    assert.equal(state.updatedByRun, runId);
    const reset = parsed(await run(['state', 'set', 'hello', '{"runs": 41}']));
    assert.deepEqual(reset.state, { runs: 41 });

    const runs = parsed(await run(['run', 'list']));
    assert.deepEqual(
      runs.data.map((r: { runId: string; status: string; jobName: string }) => [r.runId, r.jobName, r.status]),
      [[runId, 'hello', 'succeeded']],
    );
    assert.equal(runs.nextCursor, null);
    const again = await run(['job', 'trigger', 'hello', '--follow']);
    assert.ok(again.stdout.includes('run number 42'), 'the next run starts from the state set by hand');
  });

  it('runs the incremental-sync example: each run moves the cursor in state, and a run with nothing new changes nothing', async () => {
    const config = join(scratch, 'sync');
    const run = (args: string[], input?: string) =>
      sovOk(config, ['--json', ...args], input === undefined ? {} : { input });
    await run(['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], password);
    await run(['workspace', 'create', 'sync', '--region', 'us']);
    const deployed = parsed(await run(['deploy', join(repoRoot, 'examples/incremental-sync')]));
    assert.deepEqual(deployed.jobs[0].trigger, { type: 'every', everySeconds: 3600 });
    assert.deepEqual(deployed.files, ['data/orders.jsonl', 'sovereign.yaml', 'sync.mjs']);

    const synced: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const events = (await run(['job', 'trigger', 'sync_orders', '--follow'])).stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line));
      assert.equal(events.at(-1).status, 'succeeded');
      const file = parsed(await run(['outputs', 'get', events[0].runId, 'orders.jsonl']));
      synced.push(
        file.content
          .trimEnd()
          .split('\n')
          .map((line: string) => JSON.parse(line).id),
      );
    }
    assert.deepEqual(synced, [
      ['ord-1001', 'ord-1002', 'ord-1003', 'ord-1004', 'ord-1005'],
      // ord-1006 shares ord-1005's timestamp: the (updatedAt, id) cursor still picks it up.
      ['ord-1006', 'ord-1007', 'ord-1008', 'ord-1009', 'ord-1010'],
      ['ord-1011', 'ord-1012'],
    ]);
    const state = parsed(await run(['state', 'get', 'sync_orders']));
    assert.deepEqual(state.state, { cursor: { updatedAt: '2026-01-05T14:47:00Z', id: 'ord-1012' }, synced: 12 });

    const idle = (await run(['job', 'trigger', 'sync_orders', '--follow'])).stdout;
    assert.ok(idle.includes('Up to date: no orders changed since the cursor.'), idle);
    assert.deepEqual(parsed(await run(['state', 'get', 'sync_orders'])).state, state.state);
  });

  it('takes a secret from a hidden prompt, stdin or a file, never from the command line', async () => {
    const config = join(scratch, 'secrets');
    const run = (args: string[], input?: string) => sovOk(config, args, input === undefined ? {} : { input });
    await run(['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], password);
    await run(['workspace', 'create', 'secrets', '--region', 'eu']);
    const values = { FROM_STDIN: 'sk-stdin-41d9e2', FROM_FILE: 'sk-file-83b0c7', FROM_TTY: 'sk-tty-5e62a1' };

    // On the command line (the process list, the shell's history), a secret is refused, and says what to do.
    for (const args of [
      ['vars', 'set', 'ON_ARGV', 'sk-argv-0f3b', '--secret'],
      ['vars', 'set', 'ON_ARGV=sk-argv-0f3b', '--secret'],
    ]) {
      const refused = await sov(config, args);
      assert.equal(refused.code, 2, `sov ${args.join(' ')}: ${refused.stderr}`);
      assert.match(
        refused.stderr,
        /^Error: A secret's value is not taken on the command line: it would show in the process list and your shell history\.$/m,
      );
      assert.match(
        refused.stderr,
        /^Hint: .*sov vars set ON_ARGV --secret\).*printf %s "\$VALUE" \| sov vars set ON_ARGV --secret.*--from-file PATH/m,
      );
    }
    const both = await sov(config, ['vars', 'set', 'TWICE', 'x', '--from-file', '/dev/null']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /Give the value of TWICE once/);
    const missing = await sov(config, ['vars', 'set', 'NO_FILE', '--secret', '--from-file', join(scratch, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^Error: Cannot read .*nope: there is no such file\.$/m);

    // Piped in, and from a file (its final line break dropped, as `echo` adds one).
    await run(['vars', 'set', 'FROM_STDIN', '--secret'], `${values.FROM_STDIN}\n`);
    const file = join(scratch, 'token.txt');
    await writeFile(file, `${values.FROM_FILE}\n`, { mode: 0o600 });
    await run(['vars', 'set', 'FROM_FILE', '--secret', '--from-file', file]);
    await run(['vars', 'set', 'PLAIN_FROM_FILE', '--from-file', file]);

    // Typed at a hidden prompt on a terminal.
    const child = spawn(
      'script',
      ['-qfec', `${quote(process.execPath)} ${quote(sovBin)} vars set FROM_TTY --secret`, '/dev/null'],
      {
        cwd: repoRoot,
        env: cleanEnv({ SOV_CONFIG_DIR: config, TERM: 'xterm', NO_COLOR: '1' }),
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let screen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString();
    });
    const deadline = Date.now() + 30_000;
    while (!screen.includes('Value of FROM_TTY: ')) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`never asked; the screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.stdin.write(`${values.FROM_TTY}\r`);
    const [code] = await once(child, 'close');
    assert.equal(code, 0, screen);
    assert.match(screen, /Set FROM_TTY in workspace secrets \(secret: stored encrypted in region eu/);
    assert.ok(!screen.includes(values.FROM_TTY), 'the secret is not echoed');

    const listed = parsed(await run(['--json', 'vars', 'list']));
    assert.deepEqual(
      listed.data.map((v: { name: string; secret: boolean; value?: string }) => [v.name, v.secret, v.value ?? null]),
      [
        ['FROM_FILE', true, null],
        ['FROM_STDIN', true, null],
        ['FROM_TTY', true, null],
        ['PLAIN_FROM_FILE', false, values.FROM_FILE],
      ],
      'nothing was set from the refused command lines',
    );

    // A job reads each secret as it was given: it writes them out (hex, past the log masking) as an output.
    const project = join(scratch, 'show-secrets');
    await cp(hello, project, { recursive: true });
    await writeFile(join(project, 'sovereign.yaml'), 'jobs:\n  - name: show\n    run: node show.mjs\n');
    await writeFile(
      join(project, 'show.mjs'),
      `import { writeFileSync } from 'node:fs';
const hex = (name) => Buffer.from(process.env[name] ?? '').toString('hex');
writeFileSync(process.env.SOV_OUTPUT_DIR + '/values.json', JSON.stringify({ FROM_STDIN: hex('FROM_STDIN'), FROM_FILE: hex('FROM_FILE'), FROM_TTY: hex('FROM_TTY') }));
`,
    );
    await run(['deploy', project]);
    const events = (await run(['--json', 'job', 'trigger', 'show', '--follow'])).stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(events.at(-1).status, 'succeeded');
    const out = parsed(await run(['--json', 'outputs', 'get', events[0].runId, 'values.json']));
    const seen = Object.fromEntries(
      Object.entries(JSON.parse(out.content) as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'hex').toString(),
      ]),
    );
    assert.deepEqual(seen, values);
  });

  it('changes a password with the current one (sov password), and shows the API key whoami runs with', async () => {
    const api = `${dev.url}/api/public/v1`;
    const json = async (method: string, path: string, token: string | undefined, body: unknown) => {
      const response = await fetch(`${api}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200, `${method} ${path}`);
      return (await response.json()) as any;
    };
    const admin = (await json('POST', '/auth/login', undefined, { email: 'admin@localhost', password })).accessToken;
    const email = 'changes-password@example.test';
    await json('POST', '/users', admin, { email, password: 'first-password' });
    const config = join(scratch, 'password');
    await sovOk(config, ['login', '--api', dev.url, '--email', email, '--password-stdin'], { input: 'first-password' });

    const wrong = await sov(config, ['password'], { input: 'not-the-password\nsecond-password\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^Error: The current password is wrong\. \[current_password_invalid\]$/m);
    const missing = await sov(config, ['password'], { input: 'first-password\n' });
    assert.equal(missing.code, 2, missing.stderr);

    const changed = parsed(await sovOk(config, ['--json', 'password'], { input: 'first-password\nsecond-password\n' }));
    assert.deepEqual(changed, { profile: 'default', passwordChanged: true, sessionsEnded: 0 });
    assert.match((await sovOk(config, ['whoami'])).stdout, new RegExp(`^user\\s+${email}$`, 'm'), 'still signed in');
    const old = await sov(
      join(scratch, 'password-old'),
      ['login', '--api', dev.url, '--email', email, '--password-stdin'],
      {
        input: 'first-password',
      },
    );
    assert.equal(old.code, 1, 'the old password no longer signs in');
    await sovOk(join(scratch, 'password-new'), ['login', '--api', dev.url, '--email', email, '--password-stdin'], {
      input: 'second-password',
    });

    // With an API key in SOV_TOKEN, whoami says which, and sov password is refused.
    const session = (await json('POST', '/auth/login', undefined, { email, password: 'second-password' })).accessToken;
    const key = await json('POST', '/api-keys', session, { name: 'ci', role: 'viewer' });
    const env = { SOV_TOKEN: key.key, SOV_API_URL: dev.url };
    const whoami = await sovOk(join(scratch, 'password-key'), ['whoami'], { env });
    assert.match(whoami.stdout, /^API key\s+viewer, expires \d{4}-\d{2}-\d{2}$/m);
    const byKey = await sov(join(scratch, 'password-key'), ['password'], {
      env,
      input: 'second-password\nthird-password\n',
    });
    assert.equal(byKey.code, 1);
    assert.match(byKey.stderr, /\[session_required\]/);
  });

  it('explains failures: what went wrong, the server’s code, a hint, a distinct exit code, no stack trace', async () => {
    const config = join(scratch, 'errors');
    const notSignedIn = await sov(config, ['whoami']);
    assert.equal(notSignedIn.code, 3);
    assert.equal(
      notSignedIn.stderr,
      'Error: You are not signed in (profile "default").\nHint: Sign in with: sov login\n',
    );

    const wrong = await sov(config, ['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], {
      input: 'not-the-password',
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^Error: The email or the password is wrong\. \[invalid_credentials\]$/m);
    assert.match(wrong.stderr, /^Hint: /m);

    const port = await freePort();
    const unreachable = await sov(config, ['login', '--api', `http://127.0.0.1:${port}`, '--email', 'a@b.test'], {
      input: 'x',
    });
    assert.equal(unreachable.code, 4);
    assert.match(unreachable.stderr, new RegExp(`Cannot reach the control plane at http://127.0.0.1:${port}\\.`));

    await sovOk(config, ['login', '--api', dev.url, '--email', 'admin@localhost', '--password-stdin'], {
      input: password,
    });
    const noWorkspace = await sov(config, ['job', 'list']);
    assert.equal(noWorkspace.code, 1);
    assert.match(noWorkspace.stderr, /No workspace is selected\.\nHint: Select one with: sov workspace use <name>/);

    await sovOk(config, ['workspace', 'create', 'failing', '--region', 'us']);
    const taken = await sov(config, ['workspace', 'create', 'failing', '--region', 'us']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /\[workspace_name_taken\]/);
    const jsonError = await sov(config, ['--json', 'workspace', 'create', 'failing', '--region', 'us']);
    assert.equal(jsonError.stdout, '');
    assert.equal(JSON.parse(jsonError.stderr).error.code, 'workspace_name_taken');

    const project = join(scratch, 'failing-project');
    await cp(hello, project, { recursive: true });
    await writeFile(join(project, 'sovereign.yaml'), 'jobs:\n  - name: Bad Name\n    run: exit 3\n');
    const refused = await sov(config, ['deploy', project]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Error: .*\[manifest_invalid\]$/m);
    assert.match(refused.stderr, /^ {2}- jobs\[0\]\.name: /m, 'each problem of the manifest is listed');

    await writeFile(join(project, 'sovereign.yaml'), 'jobs:\n  - name: breaks\n    run: echo about to fail; exit 3\n');
    await sovOk(config, ['deploy', project]);
    const failed = await sov(config, ['job', 'trigger', 'breaks', '--follow']);
    assert.equal(failed.code, 10, 'a failed run exits 10');
    assert.equal(failed.stdout, 'about to fail\n');
    assert.match(failed.stderr, /✗ Run [0-9a-f]{8} of breaks failed \(exit 3\)/);

    const unknownJob = await sov(config, ['job', 'trigger', 'nope']);
    assert.equal(unknownJob.code, 1);
    assert.match(
      unknownJob.stderr,
      /^Error: Workspace failing has no job "nope"\. \[job_not_found\]\nHint: Its jobs: breaks/,
    );

    // State is a deployed job's: a typo is no new job to keep state for, nor "no saved state yet".
    const strayState = await sov(config, ['state', 'set', 'nosuch', '{"cursor": 1}']);
    assert.equal(strayState.code, 1, strayState.stderr);
    assert.match(strayState.stderr, /^Error: .*\[job_not_found\]$/m);
    const strayRead = await sov(config, ['state', 'get', 'nosuch']);
    assert.equal(strayRead.code, 1, strayRead.stderr);
    assert.match(strayRead.stderr, /^Error: .*\[job_not_found\]$/m);

    for (const result of [
      notSignedIn,
      wrong,
      unreachable,
      noWorkspace,
      taken,
      refused,
      failed,
      unknownJob,
      strayState,
    ]) {
      assertPlain(result, 'an error');
      assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    }
    const debug = await sov(config, ['--debug', 'job', 'trigger', 'nope']);
    assert.match(debug.stderr, /^debug: GET http:\/\/127\.0\.0\.1:\d+\/api\/public\/v1\/workspaces\/.* -> 200/m);
    assert.match(debug.stderr, /^\s+at /m, '--debug shows where it happened');
    assert.ok(!debug.stderr.includes('sov_s') && !debug.stderr.includes('eyJ'), 'no token in the trace');

    assert.match(
      (await sovOk(config, ['logout'])).stdout,
      /Signed out of http:\/\/127\.0\.0\.1:\d+ \(profile default\)\./,
    );
    assert.equal((await sov(config, ['whoami'])).code, 3, 'signed out means signed out');

    const usage = await sov(config, ['workspace', 'lst']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command 'lst'/);
  });

  it('shows a progress bar on a terminal, and no colour there when NO_COLOR is set', async () => {
    const config = join(scratch, 'tty');
    const onTerminal = async (command: string, env: Record<string, string> = {}) => {
      const child = spawn('script', ['-qfec', `${quote(process.execPath)} ${quote(sovBin)} ${command}`, '/dev/null'], {
        cwd: repoRoot,
        env: cleanEnv({ SOV_CONFIG_DIR: config, TERM: 'xterm', ...env }),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let screen = '';
      child.stdout.on('data', (chunk: Buffer) => {
        screen += chunk.toString();
      });
      const [code] = await once(child, 'close');
      return { code, screen };
    };
    // The profile signed in on a terminal in the first test; it deploys to the human test's workspace.
    const dry = await onTerminal(`-w demo deploy ${quote(hello)} --dry-run`);
    assert.equal(dry.code, 0, dry.screen);
    assert.match(dry.screen, /\rChecking {2}\[#{28}\] 100% {2}[\d.]+ k?B \/ [\d.]+ k?B/);
    assert.match(dry.screen, ansiEscape);
    const plain = await onTerminal('-w demo job list', { NO_COLOR: '1' });
    assert.equal(plain.code, 0, plain.screen);
    assert.match(plain.screen, /^hello\s+batch\s+manual/m);
    assert.doesNotMatch(plain.screen, ansiEscape, 'NO_COLOR turns colour off even on a terminal');
  });

  it('names the jobs a deploy would archive before uploading: asks on a terminal, and a script says --yes', async () => {
    const config = join(scratch, 'human'); // signed in, current workspace demo, which runs hello
    const echo = join(repoRoot, 'examples/interactive-echo');
    const declined = onTerminal(['deploy', echo], { SOV_CONFIG_DIR: config, NO_COLOR: '1' });
    await declined.waitFor('Archive them and deploy? [y/N]: ');
    declined.type('n\r');
    assert.equal(await declined.exitCode(), 1, declined.screen());
    assert.match(
      declined.screen(),
      /This deployment archives 1 job of workspace demo, which its sovereign\.yaml no longer lists:/,
    );
    assert.match(declined.screen(), /^\s+- hello\r?$/m);
    assert.match(declined.screen(), /Nothing was deployed\./);
    assert.doesNotMatch(declined.screen(), /Uploading/, 'asked before anything was uploaded');

    const scripted = await sov(config, ['deploy', echo]);
    assert.equal(scripted.code, 2, scripted.stderr);
    assert.match(scripted.stderr, /This deployment archives 1 job of workspace demo/);
    assert.match(scripted.stderr, /hello/);
    assert.match(scripted.stderr, /--yes/);
    const jobs = parsed(await sovOk(config, ['--json', 'job', 'list']));
    assert.deepEqual(
      jobs.data.map((j: { name: string }) => j.name),
      ['hello'],
      'neither the refusal nor the answer deployed anything',
    );
  });
});
