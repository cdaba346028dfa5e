import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { InternalPaths, protocolVersion } from '@sovereign/protocol';
import { api, eachDatabase, type Harness } from './support/harness.ts';

type Outcome = number | { status: number; code: string };
interface RouteRule {
  /** A valid body, so a refusal is about access, never about the body. */
  body?: unknown;
  /** Anyone may call it without a token. */
  public?: boolean;
  /** A query string the route needs. */
  query?: string;
  /** What another organization's owner gets: a refusal, or 'own' (the route answers only the caller's data). */
  otherOrg: Outcome | 'own';
  /** What a viewer of the organization gets on a write route ('read' marks a read route). */
  viewer: Outcome | 'read';
}

const notFound = (code: string) => ({ status: 404, code });
const role = { status: 403, code: 'insufficient_role' };
const admin = { status: 403, code: 'instance_admin_required' };

/** Every public route, and what each kind of caller must get. The test fails if a served route is missing here. */
function rules(ids: Record<string, string>): Record<string, RouteRule> {
  return {
    'POST /auth/login': {
      public: true,
      body: { email: 'nobody@example.test', password: 'x' },
      otherOrg: 'own',
      viewer: 'read',
    },
    'POST /auth/signup': {
      public: true,
      body: { email: `new-${randomUUID()}@example.test`, password: 'long-enough-password' },
      otherOrg: 'own',
      viewer: 'read',
    },
    'POST /auth/logout': { otherOrg: 'own', viewer: 'read' },
    'POST /users': {
      body: { email: `u-${randomUUID()}@example.test`, password: 'long-enough-password' },
      otherOrg: admin,
      viewer: admin,
    },
    'GET /me': { otherOrg: 'own', viewer: 'read' },
    'GET /api-keys': { otherOrg: 'own', viewer: 'read' },
    'POST /api-keys': { body: { name: 'k' }, otherOrg: 'own', viewer: 'read' },
    'DELETE /api-keys/{apiKeyId}': { otherOrg: notFound('api_key_not_found'), viewer: notFound('api_key_not_found') },
    'POST /organizations': { body: { name: 'another' }, otherOrg: 'own', viewer: 'read' },
    'GET /organizations': { otherOrg: 'own', viewer: 'read' },
    'GET /organizations/{organizationId}': { otherOrg: notFound('organization_not_found'), viewer: 'read' },
    'PATCH /organizations/{organizationId}': {
      body: { name: 'renamed' },
      otherOrg: notFound('organization_not_found'),
      viewer: role,
    },
    'GET /organizations/{organizationId}/members': { otherOrg: notFound('organization_not_found'), viewer: 'read' },
    'POST /organizations/{organizationId}/members': {
      body: { email: ids.outsiderEmail, role: 'viewer' },
      otherOrg: notFound('organization_not_found'),
      viewer: role,
    },
    'PATCH /organizations/{organizationId}/members/{userId}': {
      body: { role: 'viewer' },
      otherOrg: notFound('organization_not_found'),
      viewer: role,
    },
    'DELETE /organizations/{organizationId}/members/{userId}': {
      otherOrg: notFound('organization_not_found'),
      viewer: role,
    },
    'GET /organizations/{organizationId}/audit-events': { otherOrg: notFound('organization_not_found'), viewer: role },
    'GET /regions': {
      query: `organizationId=${ids.organizationId}`,
      otherOrg: notFound('organization_not_found'),
      viewer: 'read',
    },
    'POST /regions': {
      body: { name: `r-${randomUUID()}`, organizationId: ids.organizationId },
      otherOrg: notFound('organization_not_found'),
      viewer: role,
    },
    'GET /regions/{regionId}': { otherOrg: notFound('region_not_found'), viewer: 'read' },
    'PATCH /regions/{regionId}': { body: { enabled: true }, otherOrg: notFound('region_not_found'), viewer: role },
    'DELETE /regions/{regionId}': { otherOrg: notFound('region_not_found'), viewer: role },
    'GET /dataplanes': { otherOrg: 'own', viewer: 'read' },
    'POST /dataplanes': {
      body: { name: `d-${randomUUID()}`, regionId: ids.regionId },
      otherOrg: notFound('region_not_found'),
      viewer: role,
    },
    'GET /dataplanes/{dataplaneId}': { otherOrg: notFound('dataplane_not_found'), viewer: 'read' },
    'PATCH /dataplanes/{dataplaneId}': {
      body: { enabled: true },
      otherOrg: notFound('dataplane_not_found'),
      viewer: role,
    },
    'DELETE /dataplanes/{dataplaneId}': { otherOrg: notFound('dataplane_not_found'), viewer: role },
    'GET /dataplanes/{dataplaneId}/health': { otherOrg: notFound('dataplane_not_found'), viewer: 'read' },
    'POST /workspaces': {
      body: { name: `w-${randomUUID()}`, organizationId: ids.organizationId, regionId: ids.regionId },
      otherOrg: notFound('organization_not_found'),
      viewer: role,
    },
    'GET /workspaces': { otherOrg: 'own', viewer: 'read' },
    'GET /workspaces/{workspaceId}': { otherOrg: notFound('workspace_not_found'), viewer: 'read' },
    'PATCH /workspaces/{workspaceId}': {
      body: { name: 'renamed-ws' },
      otherOrg: notFound('workspace_not_found'),
      viewer: role,
    },
    'DELETE /workspaces/{workspaceId}': { otherOrg: notFound('workspace_not_found'), viewer: role },
    'POST /workspaces/{workspaceId}/dataplane-token': {
      body: { scopes: ['deployments:write'] },
      otherOrg: notFound('workspace_not_found'),
      viewer: { status: 403, code: 'scope_not_allowed' },
    },
    'POST /dataplane-tokens/{tokenId}/revoke': { otherOrg: notFound('token_not_found'), viewer: role },
    'GET /workspaces/{workspaceId}/jobs': { otherOrg: notFound('workspace_not_found'), viewer: 'read' },
    'GET /jobs/{jobId}': { otherOrg: notFound('job_not_found'), viewer: 'read' },
    'PATCH /jobs/{jobId}': { body: { paused: true }, otherOrg: notFound('job_not_found'), viewer: role },
    'POST /jobs/{jobId}/runs': { otherOrg: notFound('job_not_found'), viewer: role },
    'GET /runs': { otherOrg: 'own', viewer: 'read' },
    'GET /runs/{runId}': { otherOrg: notFound('run_not_found'), viewer: 'read' },
    'POST /runs/{runId}/cancel': { otherOrg: notFound('run_not_found'), viewer: role },
    'GET /workspaces/{workspaceId}/deployments': { otherOrg: notFound('workspace_not_found'), viewer: 'read' },
    'GET /signing-keys': { otherOrg: admin, viewer: admin },
    'POST /signing-keys/rotate': { otherOrg: admin, viewer: admin },
    'POST /signing-keys/retire': { otherOrg: admin, viewer: admin },
    'GET /.well-known/jwks.json': { public: true, otherOrg: 'own', viewer: 'read' },
  };
}

/** The organization under test, with an API key, a scoped token, a job and a run to address. */
async function world(h: Harness) {
  const t = await h.tenant('matrix');
  const other = await h.tenant('other');
  const outsider = await h.user('outsider');
  const key = await h.expect(200, 'POST', '/api-keys', { token: t.people.owner.token, body: { name: 'owner key' } });
  const scoped = await h.scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
  const { access_token: dp } = await h.expect(200, 'POST', InternalPaths.token, {
    body: { client_id: t.dataplane.clientId, client_secret: t.dataplane.clientSecret },
  });
  await h.expect(200, 'POST', InternalPaths.deploymentReport, {
    token: dp,
    body: {
      protocolVersion,
      deploymentId: randomUUID(),
      workspaceId: t.workspace.workspaceId,
      digest: `sha256:${'2'.repeat(64)}`,
      sizeBytes: 1,
      createdBy: t.people.owner.userId,
      createdAt: new Date().toISOString(),
      jobs: [
        { name: 'j', kind: 'batch', trigger: { type: 'manual' }, timezone: 'UTC', timeoutSeconds: 60, retries: 0 },
      ],
    },
  });
  const jobs = await h.expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}/jobs`, {
    token: t.people.owner.token,
  });
  const run = await h.expect(200, 'POST', `/jobs/${jobs.data[0].jobId}/runs`, { token: t.people.owner.token });
  const ids: Record<string, string> = {
    organizationId: t.organizationId,
    regionId: t.regionId,
    dataplaneId: t.dataplane.dataplaneId,
    workspaceId: t.workspace.workspaceId,
    userId: t.people.member.userId,
    apiKeyId: key.apiKeyId,
    tokenId: scoped.tokenId,
    jobId: jobs.data[0].jobId,
    runId: run.runId,
    outsiderEmail: outsider.email,
  };
  return { t, other, ids };
}

function isProblem(answer: { headers: Record<string, unknown>; body: any }, outcome: { status: number; code: string }) {
  assert.match(String(answer.headers['content-type']), /application\/problem\+json/);
  for (const member of ['type', 'title', 'status', 'detail', 'code']) assert.ok(member in answer.body, `has ${member}`);
  assert.equal(answer.body.status, outcome.status);
}

eachDatabase('access matrix: every public route, every kind of caller', (h) => {
  it('covers every served route, and refuses each caller who may not with the right status and code', async () => {
    const { t, other, ids } = await world(h());
    const table = rules(ids);
    const doc = await h().expect(200, 'GET', `${api}/openapi.json`);
    const served = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations)) {
        if (['get', 'post', 'put', 'patch', 'delete'].includes(method))
          served.add(`${method.toUpperCase()} ${path.replace(api, '')}`);
      }
    }
    assert.deepEqual([...served].sort(), Object.keys(table).sort(), 'the matrix names exactly the served routes');

    const url = (key: string) => {
      const path = key.split(' ')[1] ?? '';
      const query = table[key]?.query === undefined ? '' : `?${table[key]?.query}`;
      return `${path.startsWith('/.well-known') ? path : `${api}${path}`}${query}`.replace(
        /\{(\w+)\}/g,
        (_, name: string) => ids[name] ?? name,
      );
    };
    const call = (key: string, token: string | undefined) =>
      h().request(key.split(' ')[0] ?? 'GET', url(key), {
        token,
        ...(table[key]?.body === undefined ? {} : { body: table[key]?.body }),
      });

    // Deletes after the rest, so they do not take away what another case addresses, and
    // logout last of all: it ends the very sessions the matrix calls with.
    const rank = (key: string) => (key === 'POST /auth/logout' ? 2 : key.startsWith('DELETE') ? 1 : 0);
    const order = Object.keys(table).sort((a, b) => rank(a) - rank(b));
    for (const key of order) {
      const rule = table[key] as RouteRule;
      if (!rule.public) {
        const none = await call(key, undefined);
        assert.equal(none.status, 401, `${key} without a token: ${none.text}`);
        assert.equal(none.body.code, 'unauthenticated', key);
        isProblem(none, { status: 401, code: 'unauthenticated' });
        const garbage = await call(key, 'sov_s_not-a-real-token');
        assert.equal(garbage.status, 401, `${key} with a bad token`);
        assert.equal(garbage.body.code, 'invalid_token', key);
      }
      const stranger = await call(key, other.people.owner.token);
      assert.notEqual(stranger.status, 500, key);
      if (rule.otherOrg === 'own') {
        for (const id of [
          ids.organizationId,
          ids.workspaceId,
          ids.regionId,
          ids.dataplaneId,
          ids.runId,
          ids.apiKeyId,
        ]) {
          assert.ok(!stranger.text.includes(id ?? '-'), `${key} shows another organization's ${id} to a stranger`);
        }
      } else {
        const outcome = typeof rule.otherOrg === 'number' ? { status: rule.otherOrg, code: '' } : rule.otherOrg;
        assert.equal(stranger.status, outcome.status, `${key} by another organization: ${stranger.text}`);
        assert.equal(stranger.body.code, outcome.code, key);
        isProblem(stranger, outcome);
      }
      if (rule.viewer !== 'read' && !rule.public) {
        const viewer = await call(key, t.people.viewer.token);
        const outcome = typeof rule.viewer === 'number' ? { status: rule.viewer, code: '' } : rule.viewer;
        assert.equal(viewer.status, outcome.status, `${key} by a viewer: ${viewer.text}`);
        assert.equal(viewer.body.code, outcome.code, key);
        isProblem(viewer, outcome);
      } else if (!rule.public && !key.startsWith('POST /auth/logout')) {
        const viewer = await call(key, t.people.viewer.token);
        assert.ok(
          viewer.status === 200 || viewer.status === 204,
          `${key}: a viewer may read (${viewer.status} ${viewer.text})`,
        );
      }
    }
  });

  it('draws the line between member, admin and owner where they differ', async () => {
    const t = await h().tenant('roles');
    const member = await h().request('POST', '/workspaces', {
      token: t.people.member.token,
      body: { name: 'by-member', organizationId: t.organizationId, regionId: t.regionId },
    });
    assert.equal(member.status, 403);
    assert.equal(member.body.code, 'insufficient_role');
    await h().expect(200, 'POST', '/workspaces', {
      token: t.people.admin.token,
      body: { name: 'by-admin', organizationId: t.organizationId, regionId: t.regionId },
    });
    const regionByMember = await h().request('POST', '/regions', {
      token: t.people.member.token,
      body: { name: 'r-member', organizationId: t.organizationId },
    });
    assert.equal(regionByMember.status, 403);
    const ownerByAdmin = await h().request(
      'PATCH',
      `/organizations/${t.organizationId}/members/${t.people.member.userId}`,
      {
        token: t.people.admin.token,
        body: { role: 'owner' },
      },
    );
    assert.equal(ownerByAdmin.status, 403);
    await h().expect(200, 'PATCH', `/organizations/${t.organizationId}/members/${t.people.member.userId}`, {
      token: t.people.owner.token,
      body: { role: 'owner' },
    });
    await h().scopedToken(t.people.member.token, t.workspace.workspaceId, ['deployments:write', 'variables:write']);
  });
});
