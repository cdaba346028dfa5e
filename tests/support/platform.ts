import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Role, type Scope, Scopes } from '@sovereign/contract';
import {
  type DatabaseTarget,
  emptyPgliteDir,
  freePort,
  type Service,
  startService,
  type TestDatabase,
} from '@sovereign/server-kit/testing';
import { hiddenName } from '../../packages/data-plane/src/launch/jail/launcher.ts';
import type { OtherHost } from './netns.ts';
import { packProject } from './projects.ts';
import { Tap } from './tap.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const controlPlaneMain = join(root, 'packages/control-plane/src/main.ts');
export const dataPlaneMain = join(root, 'packages/data-plane/src/main.ts');
export const adminPassword = 'e2e-admin-password';
/** The password of every user tenant() and member() create (a browser test types it). */
export const userPassword = 'e2e-user-password';

/** Every scope but `interactive`: what a client that deploys, configures and reads runs asks for. */
export const dataScopes: Scope[] = Scopes.filter((scope) => scope !== 'interactive');

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A JSON (or problem+json) HTTP call; never throws on a status. */
export async function call<T = any>(
  method: string,
  url: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: RequestInit['body'] } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: RequestInit['body'] | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, {
    method,
    headers,
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
  return { status: response.status, body: parsed as T, headers: response.headers };
}

export async function expectStatus<T = any>(
  status: number,
  method: string,
  url: string,
  options: Parameters<typeof call>[2] = {},
): Promise<T> {
  const answer = await call<T>(method, url, options);
  if (answer.status !== status) {
    throw new Error(`${method} ${url}: expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

export interface DataPlaneProcess {
  name: string;
  regionId: string;
  dataplaneId: string;
  clientId: string;
  clientSecret: string;
  url: string;
  dataDir: string;
  database: TestDatabase;
  env: Record<string, string>;
  service: Service;
}

/** Another instance of a data plane, as on a host of its own: its directories are under `root` and `jails`. */
export interface InstanceProcess extends DataPlaneProcess {
  root: string;
  jails: string;
}

export interface PlatformOptions {
  /** Extra environment for every data plane, or per data plane name. */
  dataplaneEnv?: Record<string, string>;
  perDataplaneEnv?: Record<string, Record<string, string>>;
  controlPlaneEnv?: Record<string, string>;
  /**
   * Put a recording proxy in front of the control plane: data planes and clients reach
   * it only through the tap (it is the control plane's public URL), which records every
   * request and answer.
   */
  tap?: boolean;
  /** Options to `node` for every service (startService's `nodeFlags`): the test defaults unless given. */
  nodeFlags?: readonly string[];
}

/**
 * A whole platform as real processes on loopback: a control plane and two data planes
 * (regions `us` and `eu`, in the instance's default organization, as `npm start` makes
 * them), each with its own database on the given target.
 */
export class Platform {
  readonly target: DatabaseTarget;
  readonly home: string;
  /**
   * Where its data planes jail their runs (SOV_SANDBOX_DIR): under /tmp, which every user
   * can traverse, as the runs' own users must; made by the data planes themselves.
   */
  readonly jails = join(tmpdir(), `sov-jails-${randomBytes(6).toString('hex')}`);
  controlPlane!: Service;
  controlPlaneDatabase!: TestDatabase;
  adminToken = '';
  defaultOrganizationId = '';
  readonly dataplanes = new Map<string, DataPlaneProcess>();
  /** The recording proxy in front of the control plane, when asked for. */
  tap: Tap | undefined;
  readonly #options: PlatformOptions;
  #cpEnv: Record<string, string> = {};
  /** Every data plane database made, dropped at stop (a data plane that never started too). */
  readonly #preparedDatabases = new Set<TestDatabase>();
  /** Control plane processes that ran before the current one (restarts). */
  readonly #earlierControlPlanes: Service[] = [];
  /** Further instances of data planes (startInstance), stopped and removed at stop. */
  readonly #instances: InstanceProcess[] = [];

  private constructor(target: DatabaseTarget, home: string, options: PlatformOptions) {
    this.target = target;
    this.home = home;
    this.#options = options;
  }

  static async start(target: DatabaseTarget, options: PlatformOptions = {}): Promise<Platform> {
    const platform = new Platform(target, await mkdtemp(join(tmpdir(), 'sov-e2e-')), options);
    try {
      await platform.#boot();
    } catch (error) {
      await platform.stop();
      throw error;
    }
    return platform;
  }

  /** Where data planes and clients reach the control plane: the tap, when there is one. */
  get controlPlaneUrl(): string {
    return this.tap?.url ?? this.controlPlane.url;
  }

  get cp(): string {
    return `${this.controlPlaneUrl}/api/public/v1`;
  }

  /** Everything every control plane process of this platform printed, restarts included. */
  controlPlaneOutput(): string {
    return [...this.#earlierControlPlanes, this.controlPlane].map((service) => service.output()).join('\n');
  }

  dp(name: string): DataPlaneProcess {
    const plane = this.dataplanes.get(name);
    if (plane === undefined) throw new Error(`no data plane ${name}`);
    return plane;
  }

  async #boot(): Promise<void> {
    this.controlPlaneDatabase = await this.target.create(true);
    const port = await freePort();
    if (this.#options.tap === true) this.tap = await Tap.start(`http://127.0.0.1:${port}`);
    this.#cpEnv = {
      SOV_PORT: String(port),
      ...(this.tap === undefined ? {} : { SOV_PUBLIC_URL: this.tap.url }),
      SOV_HOME: join(this.home, 'cp'),
      // Production mode: the control plane refuses to start without its master key.
      SOV_MASTER_KEY: randomBytes(32).toString('base64'),
      SOV_ADMIN_PASSWORD: adminPassword,
      SOV_PASSWORD_COST_LOG2: '12',
      SOV_HEARTBEAT_INTERVAL_SECONDS: '1',
      SOV_LOG_LEVEL: 'info',
      ...this.controlPlaneDatabase.env,
      ...this.#options.controlPlaneEnv,
    };
    await this.startControlPlane();
    const me = await expectStatus(200, 'GET', `${this.cp}/me`, { token: this.adminToken });
    this.defaultOrganizationId = me.organizations[0].organizationId;
    const planes: Array<Omit<DataPlaneProcess, 'service'>> = [];
    for (const [region, name] of [
      ['us', 'us-1'],
      ['eu', 'eu-1'],
    ] as const) {
      const { regionId } = await expectStatus(200, 'POST', `${this.cp}/regions`, {
        token: this.adminToken,
        body: { name: region, organizationId: this.defaultOrganizationId },
      });
      const created = await expectStatus(200, 'POST', `${this.cp}/dataplanes`, {
        token: this.adminToken,
        body: { name, regionId },
      });
      planes.push(await this.prepareDataPlane(name, regionId, created));
    }
    // Both at once, as two regions' machines would: neither waits for the other.
    const started = await Promise.allSettled(planes.map((plane) => this.startDataPlane(plane)));
    for (const [index, result] of started.entries()) {
      const plane = planes[index] as Omit<DataPlaneProcess, 'service'>;
      if (result.status === 'fulfilled') this.dataplanes.set(plane.name, { ...plane, service: result.value });
    }
    for (const result of started) if (result.status === 'rejected') throw result.reason;
  }

  /**
   * What a data plane process needs to start (port, data directory, database, and the
   * environment of every data plane of this platform), for credentials of `POST
   * /dataplanes`. `env` is added last.
   */
  async prepareDataPlane(
    name: string,
    regionId: string,
    created: { dataplaneId: string; clientId: string; clientSecret: string },
    env: Record<string, string> = {},
  ): Promise<Omit<DataPlaneProcess, 'service'>> {
    const dpPort = await freePort();
    const dataDir = join(this.home, name);
    // On PGlite a data plane keeps its database in its data directory, as in production.
    let database: TestDatabase;
    if (this.target.name === 'pglite') {
      database = { options: { dataDir: join(dataDir, 'db') }, env: {}, drop: async () => {} };
      await emptyPgliteDir(join(dataDir, 'db'));
    } else database = await this.target.create(true);
    const plane: Omit<DataPlaneProcess, 'service'> = {
      name,
      regionId,
      dataplaneId: created.dataplaneId,
      clientId: created.clientId,
      clientSecret: created.clientSecret,
      url: `http://127.0.0.1:${dpPort}`,
      dataDir,
      database,
      env: {
        SOV_PORT: String(dpPort),
        SOV_CONTROL_PLANE_URL: this.controlPlaneUrl,
        SOV_CLIENT_ID: created.clientId,
        SOV_CLIENT_SECRET: created.clientSecret,
        SOV_DATA_DIR: dataDir,
        SOV_MASTER_KEY: randomBytes(32).toString('base64'),
        SOV_SANDBOX_DIR: this.jails,
        // SOV_TEST_SANDBOX=off runs every suite with unjailed data planes: the security
        // suites must then fail, which is how they are seen to test the jail.
        ...(process.env.SOV_TEST_SANDBOX ? { SOV_SANDBOX: process.env.SOV_TEST_SANDBOX } : {}),
        SOV_LOG_LEVEL: 'info',
        ...database.env,
        ...this.#options.dataplaneEnv,
        ...this.#options.perDataplaneEnv?.[name],
        ...env,
      },
    };
    this.#preparedDatabases.add(database);
    return plane;
  }

  /** The control plane's environment (a copy), its master key included. */
  get controlPlaneEnv(): Record<string, string> {
    return { ...this.#cpEnv };
  }

  /** Starts (or restarts) the control plane; `env` changes its environment for this start and later ones. */
  async startControlPlane(env: Record<string, string> = {}): Promise<void> {
    this.#cpEnv = { ...this.#cpEnv, ...env };
    if (this.controlPlane !== undefined) this.#earlierControlPlanes.push(this.controlPlane);
    this.controlPlane = await startService({
      args: [controlPlaneMain],
      nodeFlags: this.#options.nodeFlags,
      url: `http://127.0.0.1:${this.#cpEnv.SOV_PORT}`,
      env: this.#cpEnv,
    });
    const login = await expectStatus(200, 'POST', `${this.cp}/auth/login`, {
      body: { email: 'admin@localhost', password: adminPassword },
    });
    this.adminToken = login.accessToken;
  }

  /** Starts (or restarts) a data plane process; resolves once it registered (ready). */
  async startDataPlane(plane: Omit<DataPlaneProcess, 'service'>): Promise<Service> {
    const service = await startService({
      args: [dataPlaneMain],
      nodeFlags: this.#options.nodeFlags,
      url: plane.url,
      env: plane.env,
    });
    const existing = this.dataplanes.get(plane.name);
    if (existing !== undefined) existing.service = service;
    return service;
  }

  /**
   * Another instance of data plane `name`, as on another host: the same credentials, master
   * key and database, the same public URL (a load balancer's), and its own port and
   * directories (data, work, jails, SOV_HOME) under roots of their own, so it shares no file
   * with the first. On `host` (a network namespace) it listens on that host's address and
   * reaches the control plane, PostgreSQL and the bucket only through what the host forwards.
   * `env` is added last. Stopped, and its directories removed, at stop.
   */
  async startInstance(name: string, env: Record<string, string> = {}, host?: OtherHost): Promise<InstanceProcess> {
    const first = this.dp(name);
    const root = await mkdtemp(join(tmpdir(), `sov-host-${name}-`));
    // Made by the data plane itself, under /tmp: its runs' users must traverse every directory above.
    const jails = join(tmpdir(), `sov-jails-${randomBytes(6).toString('hex')}`);
    const port = await freePort();
    /** What the instance reaches on this machine's loopback, as its host reaches it. */
    const reached = async (variable: string, url: string | undefined) =>
      host === undefined || url === undefined ? {} : { [variable]: await host.reach(url) };
    const instance: Omit<InstanceProcess, 'service'> = {
      ...first,
      name: `${name}+${this.#instances.length + 1}`,
      url: `http://${host?.address ?? '127.0.0.1'}:${port}`,
      dataDir: join(root, 'data'),
      root,
      jails,
      env: {
        ...first.env,
        SOV_PORT: String(port),
        ...(host === undefined ? {} : { SOV_HOST: host.address }),
        ...(await reached('SOV_CONTROL_PLANE_URL', first.env.SOV_CONTROL_PLANE_URL)),
        ...(await reached('SOV_DATABASE_URL', first.env.SOV_DATABASE_URL)),
        ...(await reached('SOV_S3_ENDPOINT', first.env.SOV_S3_ENDPOINT)),
        SOV_PUBLIC_URL: first.env.SOV_PUBLIC_URL ?? first.url,
        SOV_HOME: join(root, 'home'),
        SOV_DATA_DIR: join(root, 'data'),
        SOV_WORK_DIR: join(root, 'work'),
        SOV_SANDBOX_DIR: jails,
        ...env,
      },
    };
    const service = await startService({
      args: [dataPlaneMain],
      nodeFlags: this.#options.nodeFlags,
      url: instance.url,
      env: instance.env,
      ...(host === undefined ? {} : { through: host.exec }),
    }).catch(async (error: unknown) => {
      await rm(root, { recursive: true, force: true });
      await rm(jails, { recursive: true, force: true });
      throw error;
    });
    const started = { ...instance, service };
    this.#instances.push(started);
    return started;
  }

  /** Triggers a run of a job and waits until it ended: its id and how it ended. */
  async runToEnd(token: string, jobId: string, timeoutMs = 120_000): Promise<{ runId: string; status: string }> {
    const run = await expectStatus(200, 'POST', `${this.cp}/jobs/${jobId}/runs`, { token });
    let status = '';
    await this.waitFor(
      async () => {
        status = (await call('GET', `${this.cp}/runs/${run.runId}`, { token })).body.status;
        return ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'].includes(status);
      },
      `run ${run.runId} to end`,
      timeoutMs,
    );
    return { runId: run.runId as string, status };
  }

  /** A new user (made by the administrator), signed in. */
  async user(label = 'user'): Promise<{ userId: string; email: string; token: string }> {
    const email = `${label}-${randomBytes(4).toString('hex')}@example.test`;
    const password = userPassword;
    const user = await expectStatus(200, 'POST', `${this.cp}/users`, {
      token: this.adminToken,
      body: { email, password },
    });
    const { accessToken } = await expectStatus(200, 'POST', `${this.cp}/auth/login`, { body: { email, password } });
    return { userId: user.userId as string, email, token: accessToken as string };
  }

  /** A new user who is a member of the organization with this role. */
  async member(ownerToken: string, organizationId: string, role: Role, label = role) {
    const person = await this.user(label);
    await expectStatus(200, 'POST', `${this.cp}/organizations/${organizationId}/members`, {
      token: ownerToken,
      body: { email: person.email, role },
    });
    return person;
  }

  /** A user with an organization (owner) and a workspace in the given region. */
  async tenant(region: 'us' | 'eu', label = 'tenant') {
    const owner = await this.user(label);
    const { organizationId } = await expectStatus(200, 'POST', `${this.cp}/organizations`, {
      token: owner.token,
      body: { name: `${label} org` },
    });
    const plane = this.dp(region === 'us' ? 'us-1' : 'eu-1');
    const workspace = await this.workspace(owner.token, organizationId, region, `${label}-ws`);
    return { ...owner, organizationId, workspace, plane };
  }

  /** A workspace of the organization in the region's data plane. */
  async workspace(token: string, organizationId: string, region: 'us' | 'eu', name: string) {
    const plane = this.dp(region === 'us' ? 'us-1' : 'eu-1');
    return expectStatus(200, 'POST', `${this.cp}/workspaces`, {
      token,
      body: { name, organizationId, regionId: plane.regionId },
    });
  }

  async scopedToken(userToken: string, workspaceId: string, scopes: Scope[], ttlSeconds?: number) {
    return expectStatus<{ token: string; tokenId: string; expiresAt: string; dataplane: { url: string } }>(
      200,
      'POST',
      `${this.cp}/workspaces/${workspaceId}/dataplane-token`,
      { token: userToken, body: { scopes, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) } },
    );
  }

  /** Waits until the workspace's data plane has learnt (from a heartbeat) that it hosts the workspace. */
  async waitUntilHosted(userToken: string, workspaceId: string): Promise<void> {
    const issued = await this.scopedToken(userToken, workspaceId, ['deployments:read']);
    const url = `${issued.dataplane.url}/api/v1/workspaces/${workspaceId}/deployments`;
    await this.waitFor(
      async () => (await call('GET', url, { token: issued.token })).status === 200,
      `the data plane to host workspace ${workspaceId}`,
    );
  }

  /**
   * Deploys a project (its files by path) to a workspace's data plane, as a client does,
   * and waits until the deployment's report has brought its jobs to the control plane.
   * Answers the deployment and the job ids by name.
   */
  async deploy(
    userToken: string,
    workspaceId: string,
    files: Record<string, string>,
  ): Promise<{ deploymentId: string; jobs: Record<string, string> }> {
    await this.waitUntilHosted(userToken, workspaceId);
    const issued = await this.scopedToken(userToken, workspaceId, ['deployments:write']);
    const deployed = await expectStatus(
      200,
      'POST',
      `${issued.dataplane.url}/api/v1/workspaces/${workspaceId}/deployments`,
      {
        token: issued.token,
        raw: new Uint8Array(await packProject(files)),
        headers: { 'content-type': 'application/gzip' },
      },
    );
    const names: string[] = deployed.jobs.map((j: { name: string }) => j.name);
    let jobs: Record<string, string> = {};
    await this.waitFor(async () => {
      const listed = await call('GET', `${this.cp}/workspaces/${workspaceId}/jobs`, { token: userToken });
      if (listed.status !== 200) return false;
      const current = listed.body.data.filter(
        (j: { deploymentId: string }) => j.deploymentId === deployed.deploymentId,
      );
      jobs = Object.fromEntries(current.map((j: { name: string; jobId: string }) => [j.name, j.jobId]));
      return names.every((name) => jobs[name] !== undefined);
    }, 'the jobs to reach the control plane');
    return { deploymentId: deployed.deploymentId, jobs };
  }

  /** Waits until a data plane's heartbeats have told it about a workspace (or a revocation). */
  async waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#instances.map((instance) => instance.service.stop().catch(() => {})));
    for (const instance of this.#instances) {
      await rm(instance.root, { recursive: true, force: true });
      await rm(instance.jails, { recursive: true, force: true });
    }
    await Promise.all([...this.dataplanes.values()].map((plane) => plane.service.stop().catch(() => {})));
    await this.controlPlane?.stop().catch(() => {});
    for (const database of this.#preparedDatabases) await database.drop().catch(() => {});
    await this.controlPlaneDatabase?.drop().catch(() => {});
    await this.tap?.close();
    await rm(this.home, { recursive: true, force: true });
    await rm(this.jails, { recursive: true, force: true });
  }

  /** The directory a data plane keeps its instances' run directories in, one per instance. */
  sandboxDir(plane: Pick<DataPlaneProcess, 'clientId'>): string {
    return join(this.jails, hiddenName(plane.clientId));
  }
}
