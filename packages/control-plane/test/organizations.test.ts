import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eachDatabase } from './support/harness.ts';

eachDatabase('organizations, members and audit', (h) => {
  it('makes the creator owner and lists only the caller’s organizations', async () => {
    const alice = await h().user('alice');
    const bob = await h().user('bob');
    const org = await h().organization(alice.token, 'Alice Co');
    const listed = await h().expect(200, 'GET', '/organizations', { token: alice.token });
    assert.deepEqual(
      listed.data.map((o: { organizationId: string; role: string }) => [o.organizationId, o.role]),
      [[org, 'owner']],
    );
    const bobs = await h().expect(200, 'GET', '/organizations', { token: bob.token });
    assert.deepEqual(bobs.data, []);
  });

  it('adds members by email with a role, and only an owner grants owner', async () => {
    const t = await h().tenant('members');
    const members = await h().expect(200, 'GET', `/organizations/${t.organizationId}/members`, {
      token: t.people.viewer.token,
    });
    assert.deepEqual(members.data.map((m: { role: string }) => m.role).sort(), ['admin', 'member', 'owner', 'viewer']);
    const newcomer = await h().user('newcomer');
    const byAdmin = await h().request('POST', `/organizations/${t.organizationId}/members`, {
      token: t.people.admin.token,
      body: { email: newcomer.email, role: 'owner' },
    });
    assert.equal(byAdmin.status, 403);
    assert.equal(byAdmin.body.code, 'insufficient_role');
    await h().addMember(t.people.admin.token, t.organizationId, newcomer.email, 'member');
    const again = await h().request('POST', `/organizations/${t.organizationId}/members`, {
      token: t.people.owner.token,
      body: { email: newcomer.email, role: 'viewer' },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'member_exists');
    const missing = await h().request('POST', `/organizations/${t.organizationId}/members`, {
      token: t.people.owner.token,
      body: { email: 'ghost@example.test', role: 'viewer' },
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'user_not_found');
  });

  it('never leaves an organization without an owner', async () => {
    const owner = await h().user('sole');
    const org = await h().organization(owner.token);
    const demote = await h().request('PATCH', `/organizations/${org}/members/${owner.userId}`, {
      token: owner.token,
      body: { role: 'admin' },
    });
    assert.equal(demote.status, 409);
    assert.equal(demote.body.code, 'last_owner');
    const leave = await h().request('DELETE', `/organizations/${org}/members/${owner.userId}`, { token: owner.token });
    assert.equal(leave.status, 409);
    assert.equal(leave.body.code, 'last_owner');
  });

  it('lets a member leave, and a removed member loses access at once', async () => {
    const t = await h().tenant('leave');
    await h().expect(204, 'DELETE', `/organizations/${t.organizationId}/members/${t.people.member.userId}`, {
      token: t.people.member.token,
    });
    const after = await h().request('GET', `/workspaces/${t.workspace.workspaceId}`, { token: t.people.member.token });
    assert.equal(after.status, 404);
    assert.equal(after.body.code, 'workspace_not_found');
  });

  it('records every change in the audit trail with actor, action, target and time, never the payload', async () => {
    const t = await h().tenant('audit');
    await h().expect(200, 'PATCH', `/workspaces/${t.workspace.workspaceId}`, {
      token: t.people.admin.token,
      body: { name: 'renamed-secret-name' },
    });
    const events = await h().expect(200, 'GET', `/organizations/${t.organizationId}/audit-events?limit=100`, {
      token: t.people.owner.token,
    });
    const actions = events.data.map((e: { action: string }) => e.action);
    for (const action of [
      'organization.create',
      'member.add',
      'region.create',
      'dataplane.create',
      'workspace.create',
      'workspace.update',
    ]) {
      assert.ok(actions.includes(action), `audit has ${action}`);
    }
    const update = events.data.find((e: { action: string }) => e.action === 'workspace.update');
    assert.deepEqual(update.actor, { type: 'user', id: t.people.admin.userId });
    assert.deepEqual(update.target, { type: 'workspace', id: t.workspace.workspaceId });
    assert.ok(Date.parse(update.createdAt) > 0);
    assert.ok(!JSON.stringify(events).includes('renamed-secret-name'), 'no payload in audit events');

    const page = await h().expect(200, 'GET', `/organizations/${t.organizationId}/audit-events?limit=2`, {
      token: t.people.owner.token,
    });
    assert.equal(page.data.length, 2);
    const next = await h().expect(
      200,
      'GET',
      `/organizations/${t.organizationId}/audit-events?limit=2&cursor=${page.nextCursor}`,
      { token: t.people.owner.token },
    );
    assert.ok(Number(next.data[0].auditEventId) < Number(page.data[1].auditEventId));
  });
});
