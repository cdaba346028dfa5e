import { after, before, describe } from 'node:test';
import type { Role, Scope } from '@sovereign/contract';
import { type Database, openDatabase } from '@sovereign/server-kit/sql';
import { type DatabaseTarget, databaseTargets, flowTarget, type TestDatabase } from '@sovereign/server-kit/testing';
import { buildControlPlane, type ControlPlane } from '../../src/app.ts';
import { type ControlPlaneConfig, defaultConfig } from '../../src/config.ts';

export const api = '/api/public/v1';
export const adminEmail = 'admin@localhost';
export const adminPassword = 'admin-password-for-tests';
export const userPassword = 'user-password-for-tests';

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

export interface RequestOptions {
  token?: string | undefined;
  body?: unknown;
  /** Sent as is, for malformed bodies. */
  raw?: string;
  headers?: Record<string, string>;
  /** The caller's address, as the socket would give it (default 127.0.0.1). */
  remoteAddress?: string;
}

/** A real control plane on a real database (PGlite or PostgreSQL), driven through inject(). */
export class Harness {
  readonly plane: ControlPlane;
  readonly target: DatabaseTarget['name'];
  readonly #database: TestDatabase;
  readonly #db: Database;
  readonly #clock: { offsetMs: number; frozenAt?: number };
  adminToken = '';
  #seq = 0;

  private constructor(
    plane: ControlPlane,
    target: DatabaseTarget['name'],
    database: TestDatabase,
    db: Database,
    clock: { offsetMs: number; frozenAt?: number },
  ) {
    this.#db = db;
    this.plane = plane;
    this.target = target;
    this.#database = database;
    this.#clock = clock;
  }

  static async start(target: DatabaseTarget, overrides: Partial<ControlPlaneConfig> = {}): Promise<Harness> {
    const database = await target.create();
    const db = await openDatabase(database.options);
    const clock: { offsetMs: number; frozenAt?: number } = { offsetMs: 0 };
    const plane = await buildControlPlane(
      defaultConfig({ admin: { email: adminEmail, password: adminPassword }, ...overrides }),
      // The scheduler is ticked by hand here, at the harness's clock, so tests decide when time passes.
      { db, now: () => new Date((clock.frozenAt ?? Date.now()) + clock.offsetMs), scheduler: false },
    );
    const harness = new Harness(plane, target.name, database, db, clock);
    harness.adminToken = await harness.login(adminEmail, adminPassword);
    return harness;
  }

  /** Stops the control plane's clock (until unfreezeClock): only advanceClock moves it. */
  freezeClock(): void {
    this.#clock.frozenAt = Date.now();
  }

  unfreezeClock(): void {
    delete this.#clock.frozenAt;
  }

  /** The control plane's clock now. */
  now(): Date {
    return new Date((this.#clock.frozenAt ?? Date.now()) + this.#clock.offsetMs);
  }

  /** Stops the control plane's clock at `at` (a date of the test's choosing); resetClock() gives it back. */
  setClock(at: Date): void {
    this.#clock.frozenAt = Date.now();
    this.#clock.offsetMs = at.getTime() - this.#clock.frozenAt;
  }

  resetClock(): void {
    delete this.#clock.frozenAt;
    this.#clock.offsetMs = 0;
  }

  /** Moves the control plane's clock forward (health, expiry). */
  advanceClock(ms: number): void {
    this.#clock.offsetMs += ms;
  }

  async close(): Promise<void> {
    await this.plane.close();
    await this.#db.close();
    await this.#database.drop();
  }

  async request<T = any>(method: string, url: string, options: RequestOptions = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined;
    if (options.raw !== undefined) payload = options.raw;
    else if (options.body !== undefined) payload = JSON.stringify(options.body);
    if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    const response = await this.plane.app.inject({
      method: method as 'GET',
      url:
        url.startsWith('/') && !url.startsWith(api) && !url.startsWith('/.well-known') && !url.startsWith('/api/')
          ? `${api}${url}`
          : url,
      headers,
      ...(payload === undefined ? {} : { payload }),
      ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }),
    });
    let body: unknown = response.body;
    if (String(response.headers['content-type'] ?? '').includes('json') && response.body.length > 0) {
      body = JSON.parse(response.body);
    }
    return { status: response.statusCode, body: body as T, headers: response.headers, text: response.body };
  }

  /** Like request(), but fails the test unless the status is the expected one. */
  async expect<T = any>(status: number, method: string, url: string, options: RequestOptions = {}): Promise<T> {
    const answer = await this.request<T>(method, url, options);
    if (answer.status !== status) {
      throw new Error(`${method} ${url}: expected ${status}, got ${answer.status}: ${answer.text}`);
    }
    return answer.body;
  }

  async login(email: string, password: string): Promise<string> {
    const body = await this.expect<{ accessToken: string }>(200, 'POST', '/auth/login', { body: { email, password } });
    return body.accessToken;
  }

  unique(prefix: string): string {
    this.#seq += 1;
    return `${prefix}-${this.#seq}-${Math.random().toString(36).slice(2, 8)}`;
  }

  /** A new user (created by the admin), signed in. */
  async user(label = 'user'): Promise<{ userId: string; email: string; token: string }> {
    const email = `${this.unique(label)}@example.test`;
    const user = await this.expect<{ userId: string }>(200, 'POST', '/users', {
      token: this.adminToken,
      body: { email, password: userPassword },
    });
    return { userId: user.userId, email, token: await this.login(email, userPassword) };
  }

  async organization(ownerToken: string, name = this.unique('org')): Promise<string> {
    const org = await this.expect<{ organizationId: string }>(200, 'POST', '/organizations', {
      token: ownerToken,
      body: { name },
    });
    return org.organizationId;
  }

  async addMember(ownerToken: string, organizationId: string, email: string, role: Role): Promise<void> {
    await this.expect(200, 'POST', `/organizations/${organizationId}/members`, {
      token: ownerToken,
      body: { email, role },
    });
  }

  async region(token: string, organizationId: string, name = this.unique('region')): Promise<string> {
    const region = await this.expect<{ regionId: string }>(200, 'POST', '/regions', {
      token,
      body: { name, organizationId },
    });
    return region.regionId;
  }

  async dataplane(token: string, regionId: string, name = this.unique('dp')) {
    return this.expect<{ dataplaneId: string; regionId: string; clientId: string; clientSecret: string }>(
      200,
      'POST',
      '/dataplanes',
      { token, body: { name, regionId } },
    );
  }

  async workspace(token: string, organizationId: string, regionId: string, name = this.unique('ws')) {
    return this.expect<{ workspaceId: string; dataplaneId: string; dataResidency: string }>(
      200,
      'POST',
      '/workspaces',
      {
        token,
        body: { name, organizationId, regionId },
      },
    );
  }

  async scopedToken(token: string, workspaceId: string, scopes: Scope[]) {
    return this.expect<{ token: string; tokenId: string; expiresAt: string; dataplane: { dataplaneId: string } }>(
      200,
      'POST',
      `/workspaces/${workspaceId}/dataplane-token`,
      { token, body: { scopes } },
    );
  }

  /**
   * An organization with one user per role, a region, a data plane and a workspace:
   * what the access tests need.
   */
  async tenant(label = 'tenant') {
    const owner = await this.user(`${label}-owner`);
    const organizationId = await this.organization(owner.token, this.unique(label));
    const people = { owner } as Record<Role, { userId: string; email: string; token: string }>;
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const person = await this.user(`${label}-${role}`);
      await this.addMember(owner.token, organizationId, person.email, role);
      people[role] = person;
    }
    const regionId = await this.region(owner.token, organizationId);
    const dataplane = await this.dataplane(owner.token, regionId);
    const workspace = await this.workspace(owner.token, organizationId, regionId);
    return { organizationId, people, regionId, dataplane, workspace };
  }
}

/**
 * Declares a suite once per database target (PGlite, and PostgreSQL when
 * SOV_TEST_DATABASE_URL is set); the suite's name says which one ran.
 */
export function eachDatabase(
  title: string,
  body: (harness: () => Harness) => void,
  overrides: Partial<ControlPlaneConfig> = {},
  targets: DatabaseTarget[] = databaseTargets(),
): void {
  for (const target of targets) {
    describe(`${title} [${target.name}]`, () => {
      let harness: Harness | undefined;
      before(async () => {
        harness = await Harness.start(target, overrides);
      });
      after(async () => {
        await harness?.close();
      });
      body(() => {
        if (harness === undefined) throw new Error('harness not started');
        return harness;
      });
    });
  }
}

/**
 * Declares a suite once, on flowTarget() (PostgreSQL when there is one): for a suite whose
 * subject is who may call what, or what a request may hold, not the database. The SQL it
 * runs is the storage suites', which run on every database.
 */
export function onFlowDatabase(
  title: string,
  body: (harness: () => Harness) => void,
  overrides: Partial<ControlPlaneConfig> = {},
): void {
  eachDatabase(title, body, overrides, [flowTarget()]);
}
