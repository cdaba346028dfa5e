import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { ErrorCode, InternalPaths, protocolVersion } from '@sovereign/contract';
import { type Answer, api, type Harness, onFlowDatabase, userPassword } from './support/harness.ts';
import { assertProblem, fillPath, type Operation, servedOperations } from './support/routes.ts';
import { jobAndRun } from './support/world.ts';

/**
 * The access matrix: every route the OpenAPI document lists, called by every kind of
 * caller, against the entities of a real organization. Each cell of the table below
 * is what that caller must get; the test fails when the document lists a route the
 * table does not cover, or the table covers a route the document no longer lists.
 */

/** The refusals the matrix expects, and the status each one carries. */
const refusalStatus = {
  [ErrorCode.unauthenticated]: 401,
  [ErrorCode.invalidToken]: 401,
  [ErrorCode.apiKeyExpired]: 401,
  [ErrorCode.userDisabled]: 401,
  [ErrorCode.sessionRequired]: 403,
  [ErrorCode.insufficientRole]: 403,
  [ErrorCode.instanceAdminRequired]: 403,
  [ErrorCode.scopeNotAllowed]: 403,
  [ErrorCode.organizationNotFound]: 404,
  [ErrorCode.regionNotFound]: 404,
  [ErrorCode.dataplaneNotFound]: 404,
  [ErrorCode.workspaceNotFound]: 404,
  [ErrorCode.apiKeyNotFound]: 404,
  [ErrorCode.tokenNotFound]: 404,
  [ErrorCode.jobNotFound]: 404,
  [ErrorCode.runNotFound]: 404,
  [ErrorCode.backfillNotFound]: 404,
} as const;
type Refusal = keyof typeof refusalStatus;

/**
 * A success status, a refusal code, or `own`: the route is about the caller (their
 * profile, keys, memberships), so it answers, but only with the caller's own data.
 */
type Outcome = 200 | 204 | Refusal | 'own';

const roles = ['viewer', 'member', 'admin', 'owner'] as const;
type Caller = (typeof roles)[number] | 'instanceAdmin';
/** Least privileged first: the first caller a mutating route succeeds for is the one that calls it. */
const callers: Caller[] = [...roles, 'instanceAdmin'];

interface Row {
  /** Needs no credential; any other route answers 401 without a valid one. */
  public?: true;
  /** The owner of another organization, addressing this organization's entities. */
  stranger: Outcome;
  viewer: Outcome;
  member: Outcome;
  admin: Outcome;
  owner: Outcome;
  instanceAdmin: Outcome;
  /** A valid body, so that every refusal is about access and never about the body. */
  body?: (w: World) => unknown;
  query?: (w: World) => string;
  /** What the stranger's answer of an `own` route must hold. */
  own?: (answer: Answer, w: World) => void;
  /** Destructive routes go after the rest (higher runs later). */
  rank?: number;
  /** Path ids of its own, where the world's would be gone by the time it runs. */
  ids?: (w: World) => Record<string, string>;
  /**
   * Ends the caller's sessions: each cell signs its caller in afresh and calls with that
   * session, so the sessions the other cells use live on (until signing out everywhere,
   * which goes last).
   */
  signsOut?: true;
}

/** Every caller the same outcome. */
const all = (outcome: Outcome) => ({
  viewer: outcome,
  member: outcome,
  admin: outcome,
  owner: outcome,
  instanceAdmin: outcome,
});

/** Refused below `least` (insufficient_role unless said), `ok` from it up; an instance admin acts as an owner. */
function from(least: (typeof roles)[number], ok: 200 | 204, below: Refusal = ErrorCode.insufficientRole) {
  const rank = roles.indexOf(least);
  const cell = (role: (typeof roles)[number]) => (roles.indexOf(role) < rank ? below : ok);
  return {
    viewer: cell('viewer'),
    member: cell('member'),
    admin: cell('admin'),
    owner: cell('owner'),
    instanceAdmin: ok,
  };
}

/** The owner's API keys, one per role, and one bound to the workspace as a member. */
const keyCallers = ['viewer', 'member', 'admin', 'owner', 'workspace'] as const;
type KeyCaller = (typeof keyCallers)[number];
const everyKey = (outcome: Outcome) => Object.fromEntries(keyCallers.map((k) => [k, outcome]));

/**
 * Where a key's outcome differs from that of a person signed in with its role (for a
 * workspace key: from a stranger's). A key never makes keys or changes a password; it
 * sees and revokes only itself; a scoped token it revokes is its user's own.
 */
const keyOverrides: Record<string, Partial<Record<KeyCaller, Outcome>>> = {
  'POST /api-keys': everyKey(ErrorCode.sessionRequired),
  'POST /me/password': everyKey(ErrorCode.sessionRequired),
  'POST /auth/logout-all': everyKey(ErrorCode.sessionRequired),
  'DELETE /api-keys/{apiKeyId}': everyKey(ErrorCode.apiKeyNotFound),
  'POST /dataplane-tokens/{tokenId}/revoke': everyKey(200),
  // Creating an organization makes its user an owner: only an owner key, across organizations.
  'POST /organizations': { ...everyKey(ErrorCode.insufficientRole), owner: 'own' },
  // A workspace key is a member in its workspace, and nothing anywhere else.
  'GET /workspaces/{workspaceId}': { workspace: 200 },
  'PATCH /workspaces/{workspaceId}': { workspace: ErrorCode.insufficientRole },
  'DELETE /workspaces/{workspaceId}': { workspace: ErrorCode.insufficientRole },
  'POST /workspaces/{workspaceId}/dataplane-token': { workspace: 200 },
  // A workspace key is no admin of it: it lists no one's tokens.
  'GET /workspaces/{workspaceId}/dataplane-tokens': { workspace: ErrorCode.insufficientRole },
  'GET /workspaces/{workspaceId}/jobs': { workspace: 200 },
  'GET /workspaces/{workspaceId}/deployments': { workspace: 200 },
  'GET /jobs/{jobId}': { workspace: 200 },
  'PATCH /jobs/{jobId}': { workspace: 200 },
  'POST /jobs/{jobId}/runs': { workspace: 200 },
  'GET /runs/{runId}': { workspace: 200 },
  'POST /runs/{runId}/cancel': { workspace: 200 },
  'POST /jobs/{jobId}/backfills': { workspace: 200 },
  'GET /jobs/{jobId}/backfills': { workspace: 200 },
  'GET /backfills/{backfillId}': { workspace: 200 },
  'POST /backfills/{backfillId}/cancel': { workspace: 200 },
};

const ids = (list: Array<Record<string, unknown>>, key: string) => list.map((item) => item[key]).sort();

function table(): Record<string, Row> {
  const notOrg = ErrorCode.organizationNotFound;
  return {
    // Public: the only routes a caller without a credential reaches.
    'POST /auth/login': {
      public: true,
      body: (w) => ({ email: w.t.people.viewer.email, password: userPassword }),
      stranger: 200,
      ...all(200),
    },
    'POST /auth/signup': {
      public: true,
      body: () => ({ email: `signup-${randomUUID()}@example.test`, password: 'long-enough-password' }),
      stranger: 200,
      ...all(200),
    },
    'GET /.well-known/jwks.json': { public: true, stranger: 200, ...all(200) },

    // About the caller only.
    'POST /auth/logout': { stranger: 'own', ...all(204), rank: 9, signsOut: true },
    'POST /auth/logout-all': { stranger: 'own', ...all(204), rank: 10, signsOut: true },
    'GET /me': {
      stranger: 'own',
      ...all(200),
      own: ({ body }, w) => {
        assert.equal(body.userId, w.other.people.owner.userId);
        assert.ok(ids(body.organizations, 'organizationId').includes(w.other.organizationId));
      },
    },
    'POST /me/password': {
      // The same password again: later rows still sign in with it. Other sessions of the caller end.
      body: () => ({ currentPassword: userPassword, newPassword: userPassword }),
      stranger: 'own',
      ...all(200),
    },
    'GET /api-keys': {
      stranger: 'own',
      ...all(200),
      own: ({ body }, w) => assert.ok(!ids(body.data, 'apiKeyId').includes(w.ids.apiKeyId)),
    },
    'POST /api-keys': {
      body: () => ({ name: 'matrix key' }),
      stranger: 'own',
      ...all(200),
      own: ({ body }, w) => assert.notEqual(body.apiKeyId, w.ids.apiKeyId),
    },
    'DELETE /api-keys/{apiKeyId}': {
      // The key is the owner's: nobody else, not even an instance admin, may see it exists.
      stranger: ErrorCode.apiKeyNotFound,
      viewer: ErrorCode.apiKeyNotFound,
      member: ErrorCode.apiKeyNotFound,
      admin: ErrorCode.apiKeyNotFound,
      owner: 204,
      instanceAdmin: ErrorCode.apiKeyNotFound,
      rank: 1,
    },
    'GET /organizations': {
      stranger: 'own',
      ...all(200),
      own: ({ body }, w) => assert.ok(ids(body.data, 'organizationId').includes(w.other.organizationId)),
    },
    'POST /organizations': {
      body: () => ({ name: 'another organization' }),
      stranger: 'own',
      ...all(200),
      own: ({ body }, w) => assert.notEqual(body.organizationId, w.ids.organizationId),
    },
    'GET /workspaces': {
      stranger: 'own',
      ...all(200),
      own: ({ body }, w) => assert.deepEqual(ids(body.data, 'workspaceId'), [w.other.workspace.workspaceId]),
    },
    'GET /dataplanes': {
      stranger: 'own',
      ...all(200),
      own: ({ body }, w) => assert.deepEqual(ids(body.data, 'dataplaneId'), [w.other.dataplane.dataplaneId]),
    },
    'GET /runs': {
      stranger: 'own',
      ...all(200),
      own: ({ body }) => assert.deepEqual(body.data, [], 'the stranger has no runs'),
    },

    // Instance administrators only.
    'POST /users': {
      body: () => ({ email: `user-${randomUUID()}@example.test`, password: 'long-enough-password' }),
      stranger: ErrorCode.instanceAdminRequired,
      ...all(ErrorCode.instanceAdminRequired),
      instanceAdmin: 200,
    },
    'POST /users/{userId}/disable': {
      stranger: ErrorCode.instanceAdminRequired,
      ...all(ErrorCode.instanceAdminRequired),
      instanceAdmin: 200,
      rank: 5,
    },
    'POST /users/{userId}/enable': {
      stranger: ErrorCode.instanceAdminRequired,
      ...all(ErrorCode.instanceAdminRequired),
      instanceAdmin: 200,
      rank: 6,
    },
    'GET /signing-keys': {
      stranger: ErrorCode.instanceAdminRequired,
      ...all(ErrorCode.instanceAdminRequired),
      instanceAdmin: 200,
    },
    'POST /signing-keys/rotate': {
      stranger: ErrorCode.instanceAdminRequired,
      ...all(ErrorCode.instanceAdminRequired),
      instanceAdmin: 200,
    },
    'POST /signing-keys/retire': {
      stranger: ErrorCode.instanceAdminRequired,
      ...all(ErrorCode.instanceAdminRequired),
      instanceAdmin: 200,
    },

    // The organization and its members.
    'GET /organizations/{organizationId}': { stranger: notOrg, ...from('viewer', 200) },
    'PATCH /organizations/{organizationId}': {
      body: () => ({ name: 'renamed organization' }),
      stranger: notOrg,
      ...from('admin', 200),
    },
    'GET /organizations/{organizationId}/members': { stranger: notOrg, ...from('viewer', 200) },
    'POST /organizations/{organizationId}/members': {
      body: (w) => ({ email: w.outsider.email, role: 'viewer' }),
      stranger: notOrg,
      ...from('admin', 200),
    },
    'PATCH /organizations/{organizationId}/members/{userId}': {
      body: () => ({ role: 'member' }),
      stranger: notOrg,
      ...from('admin', 200),
    },
    'DELETE /organizations/{organizationId}/members/{userId}': {
      stranger: notOrg,
      ...from('admin', 204),
      rank: 1,
    },
    'GET /organizations/{organizationId}/audit-events': { stranger: notOrg, ...from('admin', 200) },

    // Regions and data planes.
    'GET /regions': {
      query: (w) => `organizationId=${w.ids.organizationId}`,
      stranger: notOrg,
      ...from('viewer', 200),
    },
    'POST /regions': {
      body: (w) => ({ name: `region-${randomUUID()}`, organizationId: w.ids.organizationId }),
      stranger: notOrg,
      ...from('admin', 200),
    },
    'GET /regions/{regionId}': { stranger: ErrorCode.regionNotFound, ...from('viewer', 200) },
    'PATCH /regions/{regionId}': {
      body: () => ({ enabled: true }),
      stranger: ErrorCode.regionNotFound,
      ...from('admin', 200),
    },
    'DELETE /regions/{regionId}': { stranger: ErrorCode.regionNotFound, ...from('admin', 200), rank: 4 },
    'POST /dataplanes': {
      body: (w) => ({ name: `dp-${randomUUID()}`, regionId: w.ids.regionId, publicUrl: 'https://dp.example.test' }),
      stranger: ErrorCode.regionNotFound,
      ...from('admin', 200),
    },
    'GET /dataplanes/{dataplaneId}': { stranger: ErrorCode.dataplaneNotFound, ...from('viewer', 200) },
    'PATCH /dataplanes/{dataplaneId}': {
      // Setting the public URL, where clients are sent, takes an admin as renaming does.
      body: () => ({ enabled: true, publicUrl: 'https://dp.example.test' }),
      stranger: ErrorCode.dataplaneNotFound,
      ...from('admin', 200),
    },
    'DELETE /dataplanes/{dataplaneId}': { stranger: ErrorCode.dataplaneNotFound, ...from('admin', 200), rank: 3 },
    'GET /dataplanes/{dataplaneId}/health': { stranger: ErrorCode.dataplaneNotFound, ...from('viewer', 200) },
    // The same, under their region (Airbyte's guide): a stranger does not see the region.
    'GET /regions/{regionId}/dataplanes': { stranger: ErrorCode.regionNotFound, ...from('viewer', 200) },
    'POST /regions/{regionId}/dataplanes': {
      body: () => ({ name: `dp-${randomUUID()}`, enabled: true }),
      stranger: ErrorCode.regionNotFound,
      ...from('admin', 200),
    },
    'GET /regions/{regionId}/dataplanes/{dataplaneId}': { stranger: ErrorCode.regionNotFound, ...from('viewer', 200) },
    'PATCH /regions/{regionId}/dataplanes/{dataplaneId}': {
      body: () => ({ enabled: true }),
      stranger: ErrorCode.regionNotFound,
      ...from('admin', 200),
    },
    // Deletes the world's spare data plane: the flat DELETE takes the world's own.
    'DELETE /regions/{regionId}/dataplanes/{dataplaneId}': {
      ids: (w) => ({ dataplaneId: w.spareDataplaneId }),
      stranger: ErrorCode.regionNotFound,
      ...from('admin', 200),
      rank: 3,
    },

    // Workspaces and their scoped tokens.
    'POST /workspaces': {
      body: (w) => ({ name: `ws-${randomUUID()}`, organizationId: w.ids.organizationId, regionId: w.ids.regionId }),
      stranger: notOrg,
      ...from('admin', 200),
    },
    'GET /workspaces/{workspaceId}': { stranger: ErrorCode.workspaceNotFound, ...from('viewer', 200) },
    'PATCH /workspaces/{workspaceId}': {
      // Its run limit too: the workspace is on its organization's own data plane, whose admins set it.
      body: () => ({ name: 'renamed workspace', maxConcurrentRuns: 4 }),
      stranger: ErrorCode.workspaceNotFound,
      ...from('admin', 200),
    },
    'DELETE /workspaces/{workspaceId}': { stranger: ErrorCode.workspaceNotFound, ...from('admin', 204), rank: 2 },
    // Moves: of the world's spare workspace, to its second region (the world's own stays put).
    'POST /workspaces/{workspaceId}/move': {
      ids: (w) => ({ workspaceId: w.movableWorkspaceId }),
      body: (w) => ({ regionId: w.elsewhereRegionId }),
      stranger: ErrorCode.workspaceNotFound,
      ...from('admin', 200),
    },
    'POST /workspaces/{workspaceId}/move/complete': {
      ids: (w) => ({ workspaceId: w.movableWorkspaceId }),
      stranger: ErrorCode.workspaceNotFound,
      ...from('admin', 200),
      rank: 1,
    },
    'POST /workspaces/{workspaceId}/dataplane-token': {
      // A viewer may have read scopes only: asking for a write scope is refused for that reason.
      body: () => ({ scopes: ['deployments:write', 'runs:logs'] }),
      stranger: ErrorCode.workspaceNotFound,
      ...from('member', 200, ErrorCode.scopeNotAllowed),
    },
    'GET /workspaces/{workspaceId}/dataplane-tokens': {
      stranger: ErrorCode.workspaceNotFound,
      ...from('admin', 200),
    },
    'POST /dataplane-tokens/{tokenId}/revoke': {
      // The token is the owner's: owners and admins may revoke it, as may its own user.
      stranger: ErrorCode.tokenNotFound,
      ...from('admin', 200),
    },

    // Jobs, runs and deployments (metadata).
    'GET /workspaces/{workspaceId}/jobs': { stranger: ErrorCode.workspaceNotFound, ...from('viewer', 200) },
    'GET /workspaces/{workspaceId}/deployments': { stranger: ErrorCode.workspaceNotFound, ...from('viewer', 200) },
    'GET /jobs/{jobId}': { stranger: ErrorCode.jobNotFound, ...from('viewer', 200) },
    'PATCH /jobs/{jobId}': { body: () => ({ paused: true }), stranger: ErrorCode.jobNotFound, ...from('member', 200) },
    'POST /jobs/{jobId}/runs': { stranger: ErrorCode.jobNotFound, ...from('member', 200) },
    'GET /runs/{runId}': { stranger: ErrorCode.runNotFound, ...from('viewer', 200) },
    'POST /runs/{runId}/cancel': { stranger: ErrorCode.runNotFound, ...from('member', 200) },
    // Backfills: started and cancelled like triggers, of the world's daily job.
    'POST /jobs/{jobId}/backfills': {
      body: () => ({ from: '2026-11-01T00:00:00Z', to: '2026-11-03T00:00:00Z', force: true }),
      ids: (w) => ({ jobId: w.scheduledJobId }),
      stranger: ErrorCode.jobNotFound,
      ...from('member', 200),
    },
    'GET /jobs/{jobId}/backfills': {
      ids: (w) => ({ jobId: w.scheduledJobId }),
      stranger: ErrorCode.jobNotFound,
      ...from('viewer', 200),
    },
    'GET /backfills/{backfillId}': { stranger: ErrorCode.backfillNotFound, ...from('viewer', 200) },
    'POST /backfills/{backfillId}/cancel': { stranger: ErrorCode.backfillNotFound, ...from('member', 200) },
  };
}

const publicRoutes = ['GET /.well-known/jwks.json', 'POST /auth/login', 'POST /auth/signup'];

/** The organization under test with one entity of each kind to address, and the callers. */
async function buildWorld(h: Harness) {
  const t = await h.tenant('matrix');
  const other = await h.tenant('other');
  const outsider = await h.user('outsider');
  // The member the member routes address (not the `member` caller: a member may remove themself).
  const target = await h.user('target');
  await h.addMember(t.people.owner.token, t.organizationId, target.email, 'viewer');
  const key = await h.expect(200, 'POST', '/api-keys', { token: t.people.owner.token, body: { name: 'owner key' } });
  const scoped = await h.scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
  const { jobId, runId, scheduledJobId, backfillId } = await jobAndRun(h, t);

  // Credentials that were real once: an ended session and a revoked API key.
  const endedSession = await h.login(t.people.viewer.email, userPassword);
  await h.expect(204, 'POST', '/auth/logout', { token: endedSession });
  const revoked = await h.expect(200, 'POST', '/api-keys', { token: t.people.viewer.token, body: { name: 'gone' } });
  await h.expect(204, 'DELETE', `/api-keys/${revoked.apiKeyId}`, { token: t.people.viewer.token });
  // An expired key (its expiry moved into the past: the suite's clock is the wall clock),
  // and the key of a user an administrator disabled.
  const expired = await h.expect(200, 'POST', '/api-keys', { token: t.people.viewer.token, body: { name: 'old' } });
  await h.plane.deps.db.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE api_key_id = $1`, [
    expired.apiKeyId,
  ]);
  const leaver = await h.user('disabled');
  await h.addMember(t.people.owner.token, t.organizationId, leaver.email, 'owner');
  const leaverKey = await h.expect(200, 'POST', '/api-keys', { token: leaver.token, body: { name: 'left behind' } });
  await h.expect(200, 'POST', `/users/${leaver.userId}/disable`, { token: h.adminToken });

  // A second data plane of the region, for the route that deletes one under its region.
  const spare = await h.dataplane(t.people.owner.token, t.regionId);
  // A workspace to move, and a second region (with a data plane) to move it to.
  const movable = await h.workspace(t.people.owner.token, t.organizationId, t.regionId);
  const elsewhereRegionId = await h.region(t.people.owner.token, t.organizationId);
  await h.dataplane(t.people.owner.token, elsewhereRegionId);

  const idsOf = {
    organizationId: t.organizationId,
    regionId: t.regionId,
    dataplaneId: t.dataplane.dataplaneId,
    workspaceId: t.workspace.workspaceId,
    userId: target.userId,
    apiKeyId: key.apiKeyId as string,
    tokenId: scoped.tokenId,
    jobId,
    runId,
    backfillId,
  };
  return {
    t,
    other,
    scheduledJobId,
    outsider,
    ids: idsOf,
    spareDataplaneId: spare.dataplaneId,
    movableWorkspaceId: movable.workspaceId,
    elsewhereRegionId,
    /** What a stranger must never see: every id and email of the organization. */
    secrets: [
      ...Object.values(idsOf),
      ...roles.flatMap((role) => [t.people[role].userId, t.people[role].email]),
      target.email,
    ],
    badCredentials: {
      'an unknown session token': { token: `sov_s_${'A'.repeat(43)}` },
      'an unknown API key': { token: `sov_pat_${'A'.repeat(43)}` },
      'a token of no known kind': { token: 'not-a-token' },
      'an ended session': { token: endedSession },
      'a revoked API key': { token: revoked.key as string },
      'an expired API key': { token: expired.key as string, refusal: ErrorCode.apiKeyExpired },
      "a disabled user's API key": { token: leaverKey.key as string, refusal: ErrorCode.userDisabled },
      "a disabled user's session": { token: leaver.token },
      "a data plane's scoped token": { token: scoped.token },
      'an empty bearer': { headers: { authorization: 'Bearer ' } },
      'basic credentials': { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } },
    } as Record<string, { token?: string; headers?: Record<string, string>; refusal?: Refusal }>,
  };
}
type World = Awaited<ReturnType<typeof buildWorld>>;

function check(answer: Answer, outcome: Outcome, what: string, w: World, row: Row): void {
  assert.notEqual(answer.status, 500, `${what}: ${answer.text}`);
  if (outcome === 'own') {
    assert.ok(answer.status === 200 || answer.status === 204, `${what}: ${answer.status} ${answer.text}`);
    for (const secret of w.secrets) {
      assert.ok(!answer.text.includes(secret), `${what} shows the other organization's ${secret}`);
    }
    row.own?.(answer, w);
  } else if (typeof outcome === 'number') {
    assert.equal(answer.status, outcome, `${what}: ${answer.text}`);
  } else {
    assertProblem(answer, refusalStatus[outcome], outcome, what);
  }
}

onFlowDatabase('access matrix: every public route, every kind of caller', (h) => {
  it('covers exactly the routes the OpenAPI document lists, and only login, signup and the JWKS are public', async () => {
    const operations = await servedOperations(h());
    const rows = table();
    const served = operations.map((op) => op.key);
    const missing = served.filter((key) => !(key in rows));
    const stale = Object.keys(rows).filter((key) => !served.includes(key));
    assert.deepEqual(missing, [], 'routes the document lists but the matrix does not cover');
    assert.deepEqual(stale, [], 'routes in the matrix the document no longer lists');
    assert.equal(new Set(served).size, served.length, 'each route once');

    assert.deepEqual(
      Object.keys(rows)
        .filter((key) => rows[key]?.public)
        .sort(),
      publicRoutes,
    );
    assert.deepEqual(
      operations
        .filter((op) => op.documentedPublic)
        .map((op) => op.key)
        .sort(),
      publicRoutes,
    );

    // What the table says of a viewer, in one line each: every read but the audit trail
    // and the signing keys, no write but to their own session, keys and organizations.
    const viewerMay = (key: string) => typeof rows[key]?.viewer === 'number' || rows[key]?.viewer === 'own';
    assert.deepEqual(
      served.filter((key) => key.startsWith('GET ') && !viewerMay(key)).sort(),
      [
        'GET /organizations/{organizationId}/audit-events',
        'GET /signing-keys',
        'GET /workspaces/{workspaceId}/dataplane-tokens',
      ],
      'the reads a viewer may not do',
    );
    assert.deepEqual(
      served.filter((key) => !key.startsWith('GET ') && viewerMay(key)).sort(),
      [
        'POST /api-keys',
        'POST /auth/login',
        'POST /auth/logout',
        'POST /auth/logout-all',
        'POST /auth/signup',
        'POST /me/password',
        'POST /organizations',
      ],
      'the writes a viewer may do',
    );

    for (const op of operations) {
      assert.ok(
        op.template.startsWith(`${api}/`) || op.template === '/.well-known/jwks.json',
        `${op.key}: only the public API is documented, no internal or ops route`,
      );
    }
  });

  it('refuses each caller who may not with the right status and code, and lets each who may', async () => {
    const w = await buildWorld(h());
    const rows = table();
    const operations = (await servedOperations(h())).sort(
      (a, b) => (rows[a.key]?.rank ?? 0) - (rows[b.key]?.rank ?? 0),
    );
    const tokens: Record<Caller | 'stranger', string> = {
      viewer: w.t.people.viewer.token,
      member: w.t.people.member.token,
      admin: w.t.people.admin.token,
      owner: w.t.people.owner.token,
      instanceAdmin: h().adminToken,
      stranger: w.other.people.owner.token,
    };
    const emails: Partial<Record<Caller | 'stranger', string>> = {
      ...Object.fromEntries(roles.map((role) => [role, w.t.people[role].email])),
      stranger: w.other.people.owner.email,
    };
    /** The caller's token for a row: a fresh session for a row that signs out. */
    const tokenFor = async (row: Row, caller: Caller | 'stranger') => {
      const email = emails[caller];
      if (!row.signsOut) return tokens[caller];
      if (email === undefined) throw new Error(`no fresh session for ${caller}`);
      return h().login(email, userPassword);
    };
    const call = (op: Operation, row: Row, auth: { token?: string | undefined; headers?: Record<string, string> }) => {
      const query = row.query === undefined ? '' : `?${row.query(w)}`;
      const body = row.body?.(w);
      return h().request(op.method, `${fillPath(op.template, { ...w.ids, ...row.ids?.(w) })}${query}`, {
        ...auth,
        ...(body === undefined ? {} : { body }),
      });
    };
    const succeeds = (outcome: Outcome) => typeof outcome === 'number';

    // First every refusal (and the public routes, and the stranger's own data): none of
    // them changes what the organization has, so each cell sees the same entities.
    let cells = 0;
    for (const op of operations) {
      const row = rows[op.key] as Row;
      const success = row.public ? (row.viewer as Outcome) : undefined;
      check(await call(op, row, {}), success ?? ErrorCode.unauthenticated, `${op.key} without a token`, w, row);
      for (const [label, { refusal, ...auth }] of Object.entries(w.badCredentials)) {
        const outcome = success ?? refusal ?? ErrorCode.invalidToken;
        check(await call(op, row, auth), outcome, `${op.key} with ${label}`, w, row);
      }
      check(
        await call(op, row, { token: await tokenFor(row, 'stranger') }),
        row.stranger,
        `${op.key} by another organization`,
        w,
        row,
      );
      for (const caller of callers) {
        if (!succeeds(row[caller])) {
          check(
            await call(op, row, { token: await tokenFor(row, caller) }),
            row[caller],
            `${op.key} by ${caller}`,
            w,
            row,
          );
          cells += 1;
        }
      }
      cells += 2 + Object.keys(w.badCredentials).length;
    }

    // Then the successes: each route by the least caller it allows (so a refusal above
    // was about the role, never about the request), and reads by every caller allowed.
    for (const op of operations) {
      const row = rows[op.key] as Row;
      const allowed = callers.filter((caller) => succeeds(row[caller]));
      for (const caller of op.method === 'GET' ? allowed : allowed.slice(0, 1)) {
        check(
          await call(op, row, { token: await tokenFor(row, caller) }),
          row[caller],
          `${op.key} by ${caller}`,
          w,
          row,
        );
        cells += 1;
      }
    }
    assert.ok(cells > operations.length * 10, `${cells} cells checked`);
  });

  it("acts through an API key as the lower of the key's role and its user's, and in a workspace key's workspace only", async () => {
    const w = await buildWorld(h());
    const rows = table();
    const operations = (await servedOperations(h())).sort(
      (a, b) => (rows[a.key]?.rank ?? 0) - (rows[b.key]?.rank ?? 0),
    );
    // Keys of the organization's owner: whatever they may, each key is held to its own role.
    const owner = w.t.people.owner.token;
    const keyOf = async (body: Record<string, unknown>): Promise<string> =>
      (await h().expect(200, 'POST', '/api-keys', { token: owner, body: { name: 'matrix', ...body } })).key;
    const keys: Record<KeyCaller, string> = {
      viewer: await keyOf({ role: 'viewer' }),
      member: await keyOf({ role: 'member' }),
      admin: await keyOf({ role: 'admin' }),
      owner: await keyOf({ role: 'owner' }),
      workspace: await keyOf({ role: 'member', workspaceId: w.ids.workspaceId }),
    };
    const outcome = (key: string, row: Row, caller: KeyCaller): Outcome =>
      keyOverrides[key]?.[caller] ?? (caller === 'workspace' ? row.stranger : row[caller]);
    const call = (op: Operation, row: Row, token: string) => {
      const query = row.query === undefined ? '' : `?${row.query(w)}`;
      const body = row.body?.(w);
      return h().request(op.method, `${fillPath(op.template, { ...w.ids, ...row.ids?.(w) })}${query}`, {
        token,
        ...(body === undefined ? {} : { body }),
      });
    };
    const checkKey = (answer: Answer, expected: Outcome, what: string) => {
      assert.notEqual(answer.status, 500, `${what}: ${answer.text}`);
      if (expected === 'own') assert.ok(answer.status === 200 || answer.status === 204, `${what}: ${answer.text}`);
      else if (typeof expected === 'number') assert.equal(answer.status, expected, `${what}: ${answer.text}`);
      else assertProblem(answer, refusalStatus[expected], expected, what);
    };
    const succeeds = (o: Outcome) => typeof o === 'number' || o === 'own';

    let cells = 0;
    for (const op of operations) {
      const row = rows[op.key] as Row;
      for (const caller of keyCallers) {
        const expected = outcome(op.key, row, caller);
        if (succeeds(expected)) continue;
        checkKey(await call(op, row, keys[caller]), expected, `${op.key} by a ${caller} key`);
        cells += 1;
      }
    }
    // What a workspace key lists: its workspace, its organization, no data plane.
    const listed = await h().expect(200, 'GET', '/workspaces', { token: keys.workspace });
    assert.deepEqual(ids(listed.data, 'workspaceId'), [w.ids.workspaceId]);
    const orgs = await h().expect(200, 'GET', '/organizations', { token: keys.workspace });
    assert.deepEqual(
      orgs.data.map((o: { organizationId: string; role: string }) => [o.organizationId, o.role]),
      [[w.ids.organizationId, 'member']],
    );
    assert.deepEqual((await h().expect(200, 'GET', '/dataplanes', { token: keys.workspace })).data, []);

    // Then what keys may do, least first; the destructive routes last.
    for (const op of operations) {
      const row = rows[op.key] as Row;
      const allowed = keyCallers.filter((caller) => succeeds(outcome(op.key, row, caller)));
      for (const caller of op.method === 'GET' ? allowed : allowed.slice(0, 1)) {
        checkKey(await call(op, row, keys[caller]), outcome(op.key, row, caller), `${op.key} by a ${caller} key`);
        cells += 1;
      }
    }
    assert.ok(cells > operations.length * 2, `${cells} cells checked`);
  });

  it("keeps another organization's ids out of filters, and shared regions read-only to it", async () => {
    const t = await h().tenant('filters');
    const stranger = (await h().tenant('stranger')).people.owner.token;
    const { jobId } = await jobAndRun(h(), t);
    const as = (method: string, url: string, body?: unknown) =>
      h().request(method, url, { token: stranger, ...(body === undefined ? {} : { body }) });

    assertProblem(
      await as('GET', `/workspaces?organizationId=${t.organizationId}`),
      404,
      'organization_not_found',
      'ws',
    );
    assertProblem(await as('GET', `/dataplanes?regionIds=${t.regionId}`), 404, 'region_not_found', 'dataplanes');
    const runs = await as('GET', `/runs?workspaceId=${t.workspace.workspaceId}`);
    assert.equal(runs.status, 200);
    assert.deepEqual(runs.body.data, [], "runs of another organization's workspace");
    const byJob = await as('GET', `/runs?jobId=${jobId}`);
    assert.deepEqual(byJob.body.data, [], "runs of another organization's job");

    // A region of the instance's default organization: every organization may read it and
    // put workspaces in it, none but its own may change it or add data planes to it.
    const shared = await h().region(h().adminToken, h().plane.bootstrap.defaultOrganizationId);
    assert.equal((await as('GET', `/regions/${shared}`)).status, 200);
    assertProblem(await as('PATCH', `/regions/${shared}`, { enabled: false }), 404, 'region_not_found', 'patch');
    assertProblem(await as('DELETE', `/regions/${shared}`), 404, 'region_not_found', 'delete');
    assertProblem(await as('POST', '/dataplanes', { name: 'mine', regionId: shared }), 404, 'region_not_found', 'dp');
    // Its data planes too: their names and health, never their credentials.
    const sharedPlane = await h().dataplane(h().adminToken, shared);
    const listed = await as('GET', `/dataplanes?regionIds=${shared}`);
    assert.deepEqual(
      listed.body.data.map((d: { dataplaneId: string }) => d.dataplaneId),
      [sharedPlane.dataplaneId],
    );
    const plane = await as('GET', `/dataplanes/${sharedPlane.dataplaneId}`);
    assert.equal(plane.status, 200);
    assert.equal(plane.body.clientSecret, undefined);
    const health = await as('GET', `/dataplanes/${sharedPlane.dataplaneId}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'unknown');
    assertProblem(
      await as('PATCH', `/dataplanes/${sharedPlane.dataplaneId}`, { enabled: false }),
      404,
      'dataplane_not_found',
      'patch a shared data plane',
    );
    assertProblem(await as('DELETE', `/dataplanes/${sharedPlane.dataplaneId}`), 404, 'dataplane_not_found', 'delete');

    // Nor may a stranger put a workspace of its own in this organization's region.
    const own = (await h().request('GET', '/me', { token: stranger })).body.organizations[0].organizationId;
    assertProblem(
      await as('POST', '/workspaces', { name: 'sneaky', organizationId: own, regionId: t.regionId }),
      404,
      'region_not_found',
      "a workspace in another organization's region",
    );
  });

  it("shows instance ids, their URLs and load, and refused URLs, to the data plane's organization's administrators only", async () => {
    const t = await h().tenant('instances');
    const stranger = (await h().tenant('stranger-instances')).people.owner.token;
    const shared = await h().dataplane(
      h().adminToken,
      await h().region(h().adminToken, h().plane.bootstrap.defaultOrganizationId),
    );
    const instanceIds: Record<string, string> = {};
    for (const plane of [t.dataplane, shared]) {
      const { access_token: token } = await h().expect(200, 'POST', InternalPaths.token, {
        body: { client_id: plane.clientId, client_secret: plane.clientSecret },
      });
      const facts = { protocolVersion, version: '0.1.0', capacity: 2, heldRuns: [] };
      const instanceId = randomUUID();
      instanceIds[plane.dataplaneId] = instanceId;
      await h().expect(200, 'POST', InternalPaths.heartbeat, {
        token,
        body: { ...facts, instanceId, publicUrl: 'http://127.0.0.1:7101' },
      });
      const refused = await h().request('POST', InternalPaths.heartbeat, {
        token,
        body: { ...facts, instanceId: randomUUID(), publicUrl: 'http://127.0.0.1:7102' },
      });
      assertProblem(refused, 409, ErrorCode.dataplanePublicUrlMismatch, 'another URL');
    }
    const sees = async (token: string, dataplaneId: string, admin: boolean, who: string) => {
      const answer = await h().request('GET', `/dataplanes/${dataplaneId}/health`, { token });
      assert.equal(answer.status, 200, `${who}: ${answer.text}`);
      const [instance] = answer.body.instances;
      assert.equal(answer.body.publicUrl, 'http://127.0.0.1:7101', `${who}: the URL clients are sent to`);
      assert.equal(instance.capacity, 2, who);
      if (admin) {
        assert.equal(instance.instanceId, instanceIds[dataplaneId], who);
        assert.equal(instance.publicUrl, 'http://127.0.0.1:7101', who);
        assert.equal(instance.heldRuns, 0, who);
        assert.equal(answer.body.publicUrlMismatch.reported, 'http://127.0.0.1:7102', who);
      } else {
        assert.ok(!answer.text.includes(instanceIds[dataplaneId] as string), `${who} sees an instance id`);
        assert.ok(!answer.text.includes('http://127.0.0.1:7102'), `${who} sees the refused URL`);
        assert.deepEqual(Object.keys(instance).sort(), [
          'capacity',
          'lastHeartbeatAt',
          'sandbox',
          'startedAt',
          'status',
          'version',
        ]);
        assert.equal(answer.body.publicUrlMismatch, undefined, who);
      }
    };
    for (const role of ['viewer', 'member'] as const)
      await sees(t.people[role].token, t.dataplane.dataplaneId, false, role);
    for (const role of ['admin', 'owner'] as const)
      await sees(t.people[role].token, t.dataplane.dataplaneId, true, role);
    await sees(h().adminToken, t.dataplane.dataplaneId, true, 'an instance admin');
    // A shared data plane: every organization reads its health, its own administrators alone its instances.
    await sees(stranger, shared.dataplaneId, false, "another organization's owner, on a shared data plane");
    await sees(
      t.people.owner.token,
      shared.dataplaneId,
      false,
      'an owner of another organization, on a shared data plane',
    );
    await sees(h().adminToken, shared.dataplaneId, true, 'an instance admin, on a shared data plane');
  });

  it("sets a workspace's run limit as an admin of its data plane's organization only, never as the tenant of a shared one", async () => {
    const t = await h().tenant('run-limits');
    const stranger = (await h().tenant('stranger-run-limits')).people.owner.token;
    // A workspace of the tenant in a region of the instance's default organization: a shared data plane.
    const shared = await h().region(h().adminToken, h().plane.bootstrap.defaultOrganizationId);
    await h().dataplane(h().adminToken, shared);
    const { workspaceId } = await h().workspace(t.people.owner.token, t.organizationId, shared);
    const ownerKey = (
      await h().expect(200, 'POST', '/api-keys', {
        token: t.people.owner.token,
        body: { name: 'limits', role: 'owner' },
      })
    ).key as string;
    const patch = (token: string, body: unknown) => h().request('PATCH', `/workspaces/${workspaceId}`, { token, body });
    const limitOf = async () =>
      (await h().expect(200, 'GET', `/workspaces/${workspaceId}`, { token: t.people.owner.token })).maxConcurrentRuns;

    // Every role of the tenant, its owner's key and another organization: none raises it.
    for (const [who, token] of [
      ...roles.map((role) => [role, t.people[role].token] as const),
      ["the tenant owner's owner key", ownerKey],
    ] as const) {
      const answer = await patch(token, { maxConcurrentRuns: 100 });
      assertProblem(answer, 403, ErrorCode.insufficientRole, `${who} sets the limit on a shared data plane`);
      assert.equal(answer.body.requiredRole, 'admin', who);
    }
    assertProblem(
      await patch(stranger, { maxConcurrentRuns: 100 }),
      404,
      ErrorCode.workspaceNotFound,
      'another organization sets the limit',
    );
    assert.equal(await limitOf(), null, 'nothing was set');

    // An administrator of the data plane's organization sets it; the tenant still renames, the limit stays.
    const set = await patch(h().adminToken, { maxConcurrentRuns: 2 });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.maxConcurrentRuns, 2);
    const renamed = await patch(t.people.owner.token, { name: 'renamed-by-tenant', maxConcurrentRuns: 2 });
    assert.equal(renamed.status, 200, 'the same limit is no change: renaming stays the tenant’s');
    assert.equal(await limitOf(), 2);
    assertProblem(
      await patch(t.people.owner.token, { maxConcurrentRuns: null }),
      403,
      ErrorCode.insufficientRole,
      'the tenant resets the limit',
    );
    assert.equal(await limitOf(), 2);
  });

  it('takes a user out of an organization at its own signed-in request only, and a key of a user who left lists nothing', async () => {
    const t = await h().tenant('leaving');
    const { owner, admin } = t.people;
    const org = `/organizations/${t.organizationId}`;
    const keyOf = async (who: { token: string }, body: Record<string, unknown>): Promise<string> =>
      (await h().expect(200, 'POST', '/api-keys', { token: who.token, body: { name: 'k', ...body } })).key;
    // A second owner, so that the owner may leave: what stops its keys is that they are keys.
    await h().addMember(owner.token, t.organizationId, (await h().user('second-owner')).email, 'owner');
    for (const [what, key] of [
      ['capped at viewer', await keyOf(owner, { role: 'viewer' })],
      ['with the owner’s role', await keyOf(owner, {})],
      ['bound to the workspace', await keyOf(owner, { role: 'member', workspaceId: t.workspace.workspaceId })],
    ]) {
      const answer = await h().request('DELETE', `${org}/members/${owner.userId}`, { token: key });
      assertProblem(answer, 403, 'session_required', `a key ${what}`);
    }
    assert.equal((await h().request('GET', org, { token: owner.token })).status, 200, 'the owner is still a member');

    // A key bound to a workspace acts as its user there: once the user left, it lists no region.
    const workspaceKey = await keyOf(admin, { role: 'member', workspaceId: t.workspace.workspaceId });
    const before = await h().expect(200, 'GET', '/regions', { token: workspaceKey });
    assert.ok(before.data.some((r: { regionId: string }) => r.regionId === t.regionId));
    await h().expect(204, 'DELETE', `${org}/members/${admin.userId}`, { token: admin.token });
    assert.deepEqual((await h().expect(200, 'GET', '/regions', { token: workspaceKey })).data, []);
  });

  it('draws the lines between viewer, member, admin and owner', async () => {
    const t = await h().tenant('roles');
    const { owner, admin, member, viewer } = t.people;
    const org = `/organizations/${t.organizationId}`;
    const refused = async (answer: Promise<Answer>, what: string, code = 'insufficient_role') => {
      assertProblem(await answer, code === 'last_owner' ? 409 : 403, code, what);
    };
    const as = (who: { token: string }, method: string, url: string, body?: unknown) =>
      h().request(method, url, { token: who.token, ...(body === undefined ? {} : { body }) });

    // Creating regions, data planes and workspaces takes an admin.
    const ws = { name: 'by-member', organizationId: t.organizationId, regionId: t.regionId };
    await refused(as(member, 'POST', '/workspaces', ws), 'member creates a workspace');
    await refused(as(member, 'POST', '/regions', { name: 'r', organizationId: t.organizationId }), 'member: region');
    await refused(as(member, 'POST', '/dataplanes', { name: 'd', regionId: t.regionId }), 'member: data plane');
    const created = await as(admin, 'POST', '/workspaces', { ...ws, name: 'by-admin' });
    assert.equal(created.status, 200, created.text);
    const region = await as(admin, 'POST', '/regions', { name: 'r-admin', organizationId: t.organizationId });
    assert.equal(region.status, 200, region.text);
    const plane = await as(admin, 'POST', '/dataplanes', { name: 'd-admin', regionId: region.body.regionId });
    assert.equal(plane.status, 200, plane.text);
    await refused(as(member, 'PATCH', `/workspaces/${created.body.workspaceId}`, { name: 'x' }), 'member renames');
    await refused(as(member, 'DELETE', `/workspaces/${created.body.workspaceId}`), 'member deletes a workspace');
    assert.equal((await as(admin, 'DELETE', `/workspaces/${created.body.workspaceId}`)).status, 204);

    // A viewer's scoped tokens read; a member's may write.
    const writeScopes = { scopes: ['deployments:write', 'variables:write'] };
    const tokenPath = `/workspaces/${t.workspace.workspaceId}/dataplane-token`;
    const viewerWrite = await as(viewer, 'POST', tokenPath, writeScopes);
    assertProblem(viewerWrite, 403, 'scope_not_allowed', 'viewer asks for write scopes');
    assert.deepEqual(viewerWrite.body.refusedScopes, ['deployments:write', 'variables:write']);
    assert.equal((await as(viewer, 'POST', tokenPath, { scopes: ['deployments:read', 'runs:logs'] })).status, 200);
    const memberToken = await as(member, 'POST', tokenPath, writeScopes);
    assert.equal(memberToken.status, 200, memberToken.text);

    // A token is revoked by its own user, or by an admin; not by another member.
    const viewerToken = (await as(viewer, 'POST', tokenPath, { scopes: ['runs:logs'] })).body.tokenId;
    await refused(as(member, 'POST', `/dataplane-tokens/${viewerToken}/revoke`), "member revokes another's token");
    assert.equal((await as(viewer, 'POST', `/dataplane-tokens/${viewerToken}/revoke`)).status, 200);
    assert.equal((await as(admin, 'POST', `/dataplane-tokens/${memberToken.body.tokenId}/revoke`)).status, 200);

    // The audit trail is for admins.
    await refused(as(member, 'GET', `${org}/audit-events`), 'member reads the audit trail');
    assert.equal((await as(admin, 'GET', `${org}/audit-events`)).status, 200);

    // Only an owner makes, unmakes or removes owners; an admin manages everyone else.
    const extra = await h().user('extra');
    const grant = await as(admin, 'POST', `${org}/members`, { email: extra.email, role: 'owner' });
    assertProblem(grant, 403, 'insufficient_role', 'admin adds an owner');
    assert.equal(grant.body.requiredRole, 'owner');
    assert.equal((await as(admin, 'POST', `${org}/members`, { email: extra.email, role: 'admin' })).status, 200);
    await refused(as(admin, 'PATCH', `${org}/members/${member.userId}`, { role: 'owner' }), 'admin grants owner');
    await refused(as(admin, 'PATCH', `${org}/members/${owner.userId}`, { role: 'admin' }), 'admin demotes owner');
    await refused(as(admin, 'DELETE', `${org}/members/${owner.userId}`), 'admin removes the owner');
    await refused(as(member, 'PATCH', `${org}/members/${viewer.userId}`, { role: 'member' }), 'member sets a role');
    await refused(as(member, 'DELETE', `${org}/members/${viewer.userId}`), 'member removes a viewer');
    assert.equal((await as(admin, 'PATCH', `${org}/members/${extra.userId}`, { role: 'member' })).status, 200);

    // The last owner stays until there is another; then owners may step down.
    await refused(as(owner, 'PATCH', `${org}/members/${owner.userId}`, { role: 'admin' }), 'last owner', 'last_owner');
    await refused(as(owner, 'DELETE', `${org}/members/${owner.userId}`), 'last owner leaves', 'last_owner');
    const promoted = await as(owner, 'PATCH', `${org}/members/${member.userId}`, { role: 'owner' });
    assert.equal(promoted.status, 200, promoted.text);
    assert.equal(promoted.body.role, 'owner');
    assert.equal((await as(member, 'PATCH', `${org}/members/${owner.userId}`, { role: 'admin' })).status, 200);

    // Anyone may leave; a viewer may remove only themself.
    await refused(as(viewer, 'DELETE', `${org}/members/${extra.userId}`), 'viewer removes someone');
    assert.equal((await as(viewer, 'DELETE', `${org}/members/${viewer.userId}`)).status, 204);
    assertProblem(await as(viewer, 'GET', org), 404, 'organization_not_found', 'a viewer who left');
  });
});
