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

  it('keeps an organization created with a data region in it for good: a workspace elsewhere is refused', async () => {
    const adminOrg = h().plane.bootstrap.defaultOrganizationId;
    const eu = await h().region(h().adminToken, adminOrg, h().unique('EU'));
    const us = await h().region(h().adminToken, adminOrg, h().unique('us'));
    await h().dataplane(h().adminToken, eu);
    await h().dataplane(h().adminToken, us);
    const owner = await h().user('resident');

    const created = await h().expect(200, 'POST', '/organizations', {
      token: owner.token,
      body: { name: h().unique('acme'), regionId: eu },
    });
    assert.equal(created.regionId, eu);
    const euName = (await h().expect(200, 'GET', `/regions/${eu}`, { token: owner.token })).name as string;
    assert.equal(created.dataResidency, euName.toLowerCase());
    const listed = await h().expect(200, 'GET', '/organizations', { token: owner.token });
    assert.deepEqual(
      listed.data.map((o: { regionId: string | null; dataResidency: string | null }) => [o.regionId, o.dataResidency]),
      [[eu, euName.toLowerCase()]],
      'the list shows each organization’s region',
    );
    const org = created.organizationId as string;

    const inEu = await h().workspace(owner.token, org, eu);
    assert.equal(inEu.dataResidency, euName.toLowerCase());
    const inUs = await h().request('POST', '/workspaces', {
      token: owner.token,
      body: { name: h().unique('ws'), organizationId: org, regionId: us },
    });
    assert.equal(inUs.status, 409, inUs.text);
    assert.equal(inUs.body.code, 'organization_region_mismatch');
    assert.equal(inUs.body.organizationRegionId, eu);
    assert.match(inUs.body.detail, /keeps its data in region/);

    // For good: a patch has no region to change, and a rename keeps it.
    const renamed = await h().expect(200, 'PATCH', `/organizations/${org}`, {
      token: owner.token,
      body: { name: h().unique('acme-b') },
    });
    assert.equal(renamed.regionId, eu);
    const moved = await h().request('PATCH', `/organizations/${org}`, { token: owner.token, body: { regionId: us } });
    assert.equal(moved.status, 400, 'the region is not a field a patch takes');

    // Without a region, as before: each workspace picks.
    const free = await h().expect(200, 'POST', '/organizations', {
      token: owner.token,
      body: { name: h().unique('free') },
    });
    assert.equal(free.regionId, null);
    assert.equal(free.dataResidency, null);
    await h().workspace(owner.token, free.organizationId, eu);
    await h().workspace(owner.token, free.organizationId, us);
  });

  it('takes as an organization’s region only a shared, enabled region the caller sees', async () => {
    const t = await h().tenant('own-region');
    const own = await h().request('POST', '/organizations', {
      token: t.people.owner.token,
      body: { name: h().unique('x'), regionId: t.regionId },
    });
    assert.equal(own.status, 409, own.text);
    assert.equal(own.body.code, 'region_not_usable');
    const stranger = await h().user('stranger-region');
    const hidden = await h().request('POST', '/organizations', {
      token: stranger.token,
      body: { name: h().unique('y'), regionId: t.regionId },
    });
    assert.equal(hidden.status, 404, hidden.text);
    assert.equal(hidden.body.code, 'region_not_found');
    const adminOrg = h().plane.bootstrap.defaultOrganizationId;
    const off = await h().region(h().adminToken, adminOrg, h().unique('off'));
    await h().expect(200, 'PATCH', `/regions/${off}`, { token: h().adminToken, body: { enabled: false } });
    const disabled = await h().request('POST', '/organizations', {
      token: stranger.token,
      body: { name: h().unique('z'), regionId: off },
    });
    assert.equal(disabled.status, 409, disabled.text);
    assert.equal(disabled.body.code, 'region_disabled');
  });

  it('lists, without organizationId, the regions a user may use: shared ones and their organizations’, no one else’s', async () => {
    const adminOrg = h().plane.bootstrap.defaultOrganizationId;
    const shared = await h().region(h().adminToken, adminOrg, h().unique('shared'));
    const t = await h().tenant('usable');
    const newcomer = await h().user('no-org');
    const ids = async (token: string) =>
      (await h().expect(200, 'GET', '/regions', { token })).data.map((r: { regionId: string }) => r.regionId);
    const seen = await ids(newcomer.token);
    assert.ok(seen.includes(shared), 'a shared region, to create an organization in');
    assert.ok(!seen.includes(t.regionId), 'not another organization’s');
    const member = await ids(t.people.viewer.token);
    assert.ok(member.includes(shared) && member.includes(t.regionId), 'shared ones and their organization’s');
  });
});
