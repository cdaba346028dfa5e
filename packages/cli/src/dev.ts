import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `sov dev` (what `npm start` runs): a whole platform on this machine. A control plane
 * and two data planes (`us-1` in region `us`, `eu-1` in region `eu`) as processes, on
 * PGlite and the filesystem under SOV_HOME. Regions and data planes are registered on
 * the first start and reused after. Ctrl-C stops everything; if one process dies, it
 * is reported with the end of its log and the others are stopped too, never left
 * orphaned. The children run in their own process group, so a Ctrl-C in the terminal
 * reaches only this process, which stops them in order (data planes first).
 */
const repo = fileURLToPath(new URL('../../../', import.meta.url));
/** The children are `sov control-plane` and `sov data-plane`: the same entry points as in production. */
const sovMain = join(repo, 'packages/cli/src/bin/sov.ts');
const dashboardDist = join(repo, 'packages/dashboard/dist');
const helloExample = join(repo, 'examples/hello');
/** Lines of each child's output kept to show when it dies. */
const tailLines = 15;

interface DevState {
  dataplanes: Record<string, { regionId: string; dataplaneId: string; clientId: string; clientSecret: string }>;
}

class DevError extends Error {}

/**
 * Why a port cannot be used, or undefined when it is free: checked before anything
 * starts, so a second `npm start` says what holds the port instead of starting half a
 * platform and reading the other one's /readyz as its own.
 */
async function portTaken(port: number): Promise<string | undefined> {
  const free = await new Promise<boolean>((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => done(true)));
  });
  if (free) return undefined;
  const answer = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })
    .then(async (response) => ({ status: response.status, text: await response.text() }))
    .catch(() => undefined);
  const what =
    answer === undefined
      ? 'something that does not answer HTTP'
      : answer.status === 200 && answer.text.includes('"ok"')
        ? 'what looks like another Sovereign service (sov dev or npm start already running?)'
        : `an HTTP server (GET /healthz answered ${answer.status})`;
  return `port ${port} is taken by ${what}`;
}

async function adminPassword(home: string): Promise<{ password: string; generated: boolean }> {
  const given = process.env.SOV_ADMIN_PASSWORD;
  if (given !== undefined && given !== '') return { password: given, generated: false };
  const file = join(home, 'admin-password');
  try {
    return { password: (await readFile(file, 'utf8')).trim(), generated: false };
  } catch {
    const password = randomBytes(18).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return { password, generated: true };
  }
}

async function json<T>(
  method: string,
  url: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function waitReady(url: string, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new DevError(`${name} exited during start (see its log)`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new DevError(`${name} was not ready within a minute (see its log)`);
}

/**
 * Registers the us and eu regions and their data planes once; later starts reuse them.
 * Each data plane's public URL is set to where this start runs it (`urls`), as its
 * administrator: the control plane refuses an instance reporting another, and the
 * ports follow SOV_PORT from one start to the next.
 */
async function ensureDataplanes(
  api: string,
  token: string,
  statePath: string,
  urls: Record<'us-1' | 'eu-1', string>,
): Promise<DevState> {
  let state: DevState = { dataplanes: {} };
  try {
    state = JSON.parse(await readFile(statePath, 'utf8')) as DevState;
  } catch {
    // first start
  }
  const me = await json<{ organizations: Array<{ organizationId: string; name: string }> }>('GET', `${api}/me`, token);
  const organizationId = me.body.organizations[0]?.organizationId;
  if (organizationId === undefined) throw new DevError('the administrator has no organization');
  const regions = await json<{ data: Array<{ regionId: string; name: string }> }>(
    'GET',
    `${api}/regions?organizationId=${organizationId}`,
    token,
  );
  for (const [region, name] of [
    ['us', 'us-1'],
    ['eu', 'eu-1'],
  ] as const) {
    const known = state.dataplanes[name];
    if (known !== undefined && (await json('GET', `${api}/dataplanes/${known.dataplaneId}`, token)).status === 200) {
      const set = await json<{ code?: string }>('PATCH', `${api}/dataplanes/${known.dataplaneId}`, token, {
        publicUrl: urls[name],
      });
      if (set.status !== 200) throw new DevError(`could not set the URL of ${name}: ${set.body.code ?? set.status}`);
      continue;
    }
    let regionId = regions.body.data.find((r) => r.name === region)?.regionId;
    if (regionId === undefined) {
      regionId = (await json<{ regionId: string }>('POST', `${api}/regions`, token, { name: region, organizationId }))
        .body.regionId;
    }
    const created = await json<{ dataplaneId: string; clientId: string; clientSecret: string; code?: string }>(
      'POST',
      `${api}/dataplanes`,
      token,
      {
        name: known === undefined ? name : `${name}-${randomBytes(2).toString('hex')}`,
        regionId,
        publicUrl: urls[name],
      },
    );
    if (created.status !== 200)
      throw new DevError(`could not register ${name}: ${created.body.code ?? created.status}`);
    state.dataplanes[name] = { regionId, ...created.body };
  }
  await writeFile(statePath, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

export async function dev(): Promise<number> {
  const home = resolve(process.env.SOV_HOME ?? '.sovereign');
  const base = Number(process.env.SOV_PORT ?? 8080);
  const taken = (await Promise.all([base, base + 1, base + 2].map(portTaken))).filter((why) => why !== undefined);
  if (taken.length > 0) {
    console.error(`sov dev: ${taken.join('; ')}.`);
    console.error(`Stop what runs there, or start on other ports: SOV_PORT=${base + 10} npm start`);
    return 1;
  }
  await mkdir(join(home, 'logs'), { recursive: true, mode: 0o700 });
  const { password, generated } = await adminPassword(home);
  const children: Array<{ name: string; child: ChildProcess }> = [];
  let stopping = false;

  const start = (name: string, service: 'control-plane' | 'data-plane', env: Record<string, string>) => {
    const logFile = join(home, 'logs', `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
    const child = spawn(process.execPath, [sovMain, service], {
      env: {
        ...process.env,
        SOV_HOME: home,
        SOV_LOG_LEVEL: process.env.SOV_LOG_LEVEL ?? 'info',
        // Should sov dev itself be killed outright, its services stop by themselves.
        SOV_EXIT_WITH_PARENT: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let tail: string[] = [];
    const keep = (chunk: Buffer) => {
      tail = [
        ...tail,
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      ].slice(-tailLines);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    children.push({ name, child });
    child.on('exit', (code, signal) => {
      if (stopping) return;
      console.error(
        `\nsov dev: ${name} stopped unexpectedly (${signal ?? `exit ${code}`}); stopping the rest.\nThe end of its log (${logFile}):\n${tail.map((l) => `  ${l}`).join('\n')}`,
      );
      void stopAll(1);
    });
    return child;
  };

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // Data planes first, then the control plane they report to.
    for (const { child } of [...children].reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise<void>((r) => {
          const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(force);
            r();
          });
        });
      }
    }
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(0));
  // Whatever ends this process (even an error in it), no child outlives it.
  process.on('exit', () => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });

  try {
    const cpUrl = `http://127.0.0.1:${base}`;
    // Dev mode: the control plane makes its master key once, in $SOV_HOME/control-plane/master.key.
    const cp = start('control-plane', 'control-plane', {
      SOV_PORT: String(base),
      SOV_ADMIN_PASSWORD: password,
      SOV_DEV: 'true',
    });
    await waitReady(cpUrl, cp, 'the control plane');
    const api = `${cpUrl}/api/public/v1`;
    const login = await json<{ accessToken: string }>('POST', `${api}/auth/login`, undefined, {
      email: 'admin@localhost',
      password,
    });
    if (login.status !== 200) {
      throw new DevError(
        `cannot sign in as admin@localhost: the password differs from the one stored under ${home} (set SOV_ADMIN_PASSWORD)`,
      );
    }
    const urls = { 'us-1': `http://127.0.0.1:${base + 1}`, 'eu-1': `http://127.0.0.1:${base + 2}` };
    const state = await ensureDataplanes(api, login.body.accessToken, join(home, 'dev.json'), urls);
    // Both data planes start at once: each waits on its own database, not on the other.
    const ready: Array<Promise<void>> = [];
    for (const [offset, name] of [
      [1, 'us-1'],
      [2, 'eu-1'],
    ] as const) {
      const plane = state.dataplanes[name];
      if (plane === undefined) throw new DevError(`no credentials for ${name}`);
      const child = start(name, 'data-plane', {
        SOV_PORT: String(base + offset),
        SOV_PUBLIC_URL: urls[name],
        SOV_CONTROL_PLANE_URL: cpUrl,
        SOV_CLIENT_ID: plane.clientId,
        SOV_CLIENT_SECRET: plane.clientSecret,
        SOV_DATA_DIR: join(home, 'dataplanes', name),
        SOV_DEV: 'true',
        // Jobs run `node` from the data plane's PATH: make it this Node (24), whatever else is installed.
        PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
      });
      ready.push(waitReady(urls[name], child, name));
    }
    await Promise.all(ready);
    console.log(runningMessage({ home, cpUrl, api, urls, password, generated, base }));
    return -1;
  } catch (error) {
    console.error(`sov dev: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll(1);
    return 1;
  }
}

/** What `sov dev` prints once everything is up: the URLs, the administrator, the next commands. */
function runningMessage(o: {
  home: string;
  cpUrl: string;
  api: string;
  urls: Record<string, string>;
  password: string;
  generated: boolean;
  base: number;
}): string {
  const passwordFrom = process.env.SOV_ADMIN_PASSWORD ? 'SOV_ADMIN_PASSWORD' : join(o.home, 'admin-password');
  const admin = o.generated
    ? `admin@localhost / ${o.password}   (generated; saved in ${join(o.home, 'admin-password')})`
    : `admin@localhost, password from ${passwordFrom}`;
  const dashboard = existsSync(join(dashboardDist, 'index.html')) ? `\n  dashboard       ${o.cpUrl}/` : '';
  const api = o.base === 8080 ? '' : ` --api ${o.cpUrl}`;
  const hello = relative(process.cwd(), helloExample) || '.';
  return `Sovereign is running (state in ${o.home}, logs in ${join(o.home, 'logs')}).

  control plane   ${o.cpUrl}   (API ${o.api}, OpenAPI ${o.api}/openapi.json)${dashboard}
  data plane us-1 ${o.urls['us-1']}   region us
  data plane eu-1 ${o.urls['eu-1']}   region eu

  administrator   ${admin}

Next, in another terminal:
  npx sov login${api}   # as admin@localhost, with the password above
  npx sov workspace create demo --region eu
  npx sov deploy ${hello}
  npx sov job trigger hello --follow

Stop with Ctrl-C.`;
}
