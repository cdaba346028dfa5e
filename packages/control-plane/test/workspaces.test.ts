import assert from 'node:assert/strict';
import { it } from 'node:test';
import { eachDatabase } from './support/harness.ts';

eachDatabase('workspaces and their regions', (h) => {
  it('binds a workspace to its region and to an enabled data plane there, with dataResidency', async () => {
    const owner = await h().user('ws');
    const org = await h().organization(owner.token);
    const regionId = await h().region(owner.token, org, 'EU-West');
    const disabled = await h().dataplane(owner.token, regionId, 'old');
    await h().expect(200, 'PATCH', `/dataplanes/${disabled.dataplaneId}`, {
      token: owner.token,
      body: { enabled: false },
    });
    const plane = await h().dataplane(owner.token, regionId, 'eu-1');
    const ws = await h().expect(200, 'POST', '/workspaces', {
      token: owner.token,
      body: { name: 'analytics', organizationId: org, regionId },
    });
    assert.equal(ws.regionId, regionId);
    assert.equal(ws.dataplaneId, plane.dataplaneId);
    assert.equal(ws.dataResidency, 'eu-west');
    assert.equal(ws.organizationId, org);
    const got = await h().expect(200, 'GET', `/workspaces/${ws.workspaceId}`, { token: owner.token });
    assert.deepEqual(got, ws);
    const listed = await h().expect(200, 'GET', `/workspaces?organizationId=${org}`, { token: owner.token });
    assert.deepEqual(listed.data, [ws]);
  });

  it('lists workspaces by name a page at a time, and refuses a cursor it did not give out', async () => {
    const t = await h().tenant('paging');
    const token = t.people.owner.token;
    for (const name of ['b-two', 'a-one', 'c-three', 'd-four']) {
      await h().expect(200, 'POST', '/workspaces', {
        token,
        body: { name, organizationId: t.organizationId, regionId: t.regionId },
      });
    }
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/workspaces?organizationId=${t.organizationId}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const listed = await h().expect(200, 'GET', query, { token });
      names.push(...listed.data.map((w: { name: string }) => w.name));
      cursor = listed.nextCursor;
      pages += 1;
    } while (cursor !== null);
    const { name: first } = await h().expect(200, 'GET', `/workspaces/${t.workspace.workspaceId}`, { token });
    const all = [first, 'a-one', 'b-two', 'c-three', 'd-four'].sort();
    assert.deepEqual(names, all, 'every workspace once, in name order');
    assert.equal(pages, 3);
    for (const bad of [
      'nonsense',
      Buffer.from('["x"]').toString('base64url'),
      Buffer.from('[1,2]').toString('base64url'),
    ]) {
      const answer = await h().request('GET', `/workspaces?cursor=${bad}`, { token });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, 'validation_failed');
    }
  });

  it('never changes a workspace’s region: PATCH with another regionId is a 409', async () => {
    const t = await h().tenant('immutable');
    const other = await h().region(t.people.owner.token, t.organizationId, 'elsewhere');
    await h().dataplane(t.people.owner.token, other);
    const answer = await h().request('PATCH', `/workspaces/${t.workspace.workspaceId}`, {
      token: t.people.owner.token,
      body: { regionId: other },
    });
    assert.equal(answer.status, 409);
    assert.equal(answer.body.code, 'workspace_region_immutable');
    assert.match(answer.body.detail, /To move, POST \/workspaces\/\{workspaceId\}\/move/);
    const same = await h().expect(200, 'PATCH', `/workspaces/${t.workspace.workspaceId}`, {
      token: t.people.owner.token,
      body: { regionId: t.regionId, name: 'still-here' },
    });
    assert.equal(same.regionId, t.regionId);
    assert.equal(same.name, 'still-here');
  });

  it('backs R4 in the database too: an UPDATE of region_id fails', async () => {
    const t = await h().tenant('trigger');
    const other = await h().region(t.people.owner.token, t.organizationId);
    await assert.rejects(
      h().plane.deps.db.query('UPDATE workspaces SET region_id = $2 WHERE workspace_id = $1', [
        t.workspace.workspaceId,
        other,
      ]),
      /workspace region is permanent/,
    );
  });

  it('refuses a region of another organization, a disabled region and a region with no data plane', async () => {
    const t = await h().tenant('rules');
    const stranger = await h().tenant('stranger');
    const foreign = await h().request('POST', '/workspaces', {
      token: t.people.owner.token,
      body: { name: 'x', organizationId: t.organizationId, regionId: stranger.regionId },
    });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.code, 'region_not_found');

    const off = await h().region(t.people.owner.token, t.organizationId);
    await h().dataplane(t.people.owner.token, off);
    await h().expect(200, 'PATCH', `/regions/${off}`, { token: t.people.owner.token, body: { enabled: false } });
    const disabled = await h().request('POST', '/workspaces', {
      token: t.people.owner.token,
      body: { name: 'y', organizationId: t.organizationId, regionId: off },
    });
    assert.equal(disabled.status, 409);
    assert.equal(disabled.body.code, 'region_disabled');

    const empty = await h().region(t.people.owner.token, t.organizationId);
    const none = await h().request('POST', '/workspaces', {
      token: t.people.owner.token,
      body: { name: 'z', organizationId: t.organizationId, regionId: empty },
    });
    assert.equal(none.status, 409);
    assert.equal(none.body.code, 'no_dataplane_available');
  });

  it('lets every organization use the default organization’s regions, as Airbyte’s shared regions', async () => {
    const adminOrg = h().plane.bootstrap.defaultOrganizationId;
    const shared = await h().region(h().adminToken, adminOrg, 'us');
    await h().dataplane(h().adminToken, shared, 'us-1');
    const owner = await h().user('tenant');
    const org = await h().organization(owner.token);
    const regions = await h().expect(200, 'GET', `/regions?organizationId=${org}`, { token: owner.token });
    assert.ok(regions.data.some((r: { regionId: string }) => r.regionId === shared));
    const ws = await h().workspace(owner.token, org, shared);
    assert.equal(ws.dataResidency, 'us');
    const patch = await h().request('PATCH', `/regions/${shared}`, { token: owner.token, body: { enabled: false } });
    assert.equal(patch.status, 404, 'a shared region is usable, not administrable, by others');
  });

  it('refuses duplicate names within an organization, whatever their case', async () => {
    const t = await h().tenant('names');
    const answer = await h().request('POST', '/workspaces', {
      token: t.people.owner.token,
      body: { name: 'Dup', organizationId: t.organizationId, regionId: t.regionId },
    });
    assert.equal(answer.status, 200);
    const dup = await h().request('POST', '/workspaces', {
      token: t.people.owner.token,
      body: { name: 'dup', organizationId: t.organizationId, regionId: t.regionId },
    });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 'workspace_name_taken');
  });

  it('soft-deletes a workspace', async () => {
    const t = await h().tenant('delete');
    await h().expect(204, 'DELETE', `/workspaces/${t.workspace.workspaceId}`, { token: t.people.owner.token });
    const gone = await h().request('GET', `/workspaces/${t.workspace.workspaceId}`, { token: t.people.owner.token });
    assert.equal(gone.status, 404);
    const [row] = await h().plane.deps.db.query<{ deleted_at: Date | null }>(
      'SELECT deleted_at FROM workspaces WHERE workspace_id = $1',
      [t.workspace.workspaceId],
    );
    assert.ok(row?.deleted_at instanceof Date, 'the row stays, marked deleted');
  });
});
