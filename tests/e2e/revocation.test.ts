import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InternalPaths } from '@sovereign/contract';
import { assertProblem, flowTarget } from '@sovereign/server-kit/testing';
import { call, expectStatus, Platform } from '../support/platform.ts';

/**
 * Ending access ends it at once (issue 16, point 5): removing a member, signing out
 * everywhere, deleting an API key and revoking a token by hand each end the scoped tokens
 * concerned on the data plane, without waiting for its next heartbeat. The heartbeats
 * are dropped on their way (by the tap in front of the control plane) while each
 * revocation is checked, so only the data plane's held request for revocations can
 * carry it there.
 */
const target = flowTarget();

describe(`revocation reaches the data plane at once, real processes [${target.name}]`, () => {
  let platform: Platform;
  let owner: Awaited<ReturnType<Platform['tenant']>>;
  let ws: string;

  before(async () => {
    platform = await Platform.start(target, { tap: true });
    owner = await platform.tenant('eu', 'revoking');
    ws = owner.workspace.workspaceId as string;
    await platform.waitUntilHosted(owner.token, ws);
  });
  after(async () => {
    await platform?.stop();
  });

  const deployments = (token: string) =>
    call('GET', `${owner.plane.url}/api/v1/workspaces/${ws}/deployments`, { token });

  async function accepted(token: string, what: string) {
    const answer = await deployments(token);
    assert.equal(answer.status, 200, `${what}: ${JSON.stringify(answer.body)}`);
  }

  /** Drops every heartbeat while `check` runs: what it sees, the data plane learned otherwise. */
  async function withoutHeartbeats(check: () => Promise<void>) {
    const tap = platform.tap as NonNullable<Platform['tap']>;
    const from = tap.exchanges.length;
    tap.refused.add(InternalPaths.heartbeat);
    try {
      // Heartbeats follow one another: once one was refused, none is still on its way.
      await platform.waitFor(
        async () => tap.exchanges.slice(from).some((e) => e.url === InternalPaths.heartbeat && e.status === 503),
        'a heartbeat to be dropped',
      );
      await check();
    } finally {
      tap.refused.delete(InternalPaths.heartbeat);
    }
  }

  async function refusedAsRevoked(token: string, what: string) {
    await platform.waitFor(async () => (await deployments(token)).status === 401, `${what} to be refused`);
    assertProblem(await deployments(token), 401, 'token_revoked', what);
  }

  const signIn = async (email: string) =>
    (
      await expectStatus(200, 'POST', `${platform.cp}/auth/login`, {
        body: { email, password: 'e2e-user-password' },
      })
    ).accessToken as string;

  it('removing a member ends their tokens on the data plane at once, and they get no new one', async () => {
    const member = await platform.member(owner.token, owner.organizationId, 'member');
    const issued = await platform.scopedToken(member.token, ws, ['deployments:read']);
    await accepted(issued.token, "a member's token");
    await withoutHeartbeats(async () => {
      await expectStatus(
        204,
        'DELETE',
        `${platform.cp}/organizations/${owner.organizationId}/members/${member.userId}`,
        {
          token: owner.token,
        },
      );
      await refusedAsRevoked(issued.token, "a removed member's token");
    });
    assertProblem(
      await call('POST', `${platform.cp}/workspaces/${ws}/dataplane-token`, {
        token: member.token,
        body: { scopes: ['deployments:read'] },
      }),
      404,
      'workspace_not_found',
      'a removed member asking for a new token',
    );
  });

  it('demoting a member ends the tokens they got with the higher role', async () => {
    const member = await platform.member(owner.token, owner.organizationId, 'member');
    const issued = await platform.scopedToken(member.token, ws, ['deployments:read', 'deployments:write']);
    await withoutHeartbeats(async () => {
      await expectStatus(
        200,
        'PATCH',
        `${platform.cp}/organizations/${owner.organizationId}/members/${member.userId}`,
        {
          token: owner.token,
          body: { role: 'viewer' },
        },
      );
      await refusedAsRevoked(issued.token, "a demoted member's token");
    });
    await accepted(
      (await platform.scopedToken(member.token, ws, ['deployments:read'])).token,
      'a new token for the viewer',
    );
  });

  it('signing out everywhere ends every session of the user and every token issued to them', async () => {
    const member = await platform.member(owner.token, owner.organizationId, 'member');
    const laptop = await signIn(member.email);
    const fromLaptop = await platform.scopedToken(laptop, ws, ['deployments:read']);
    const fromPhone = await platform.scopedToken(member.token, ws, ['deployments:read']);
    await withoutHeartbeats(async () => {
      await expectStatus(204, 'POST', `${platform.cp}/auth/logout-all`, { token: member.token });
      await refusedAsRevoked(fromLaptop.token, 'a token from the other session');
      await refusedAsRevoked(fromPhone.token, 'a token from the session that signed out');
    });
    for (const session of [laptop, member.token]) {
      assertProblem(
        await call('GET', `${platform.cp}/me`, { token: session }),
        401,
        'invalid_token',
        'an ended session',
      );
    }
    // Their next sign-in works as before.
    await accepted((await platform.scopedToken(await signIn(member.email), ws, ['deployments:read'])).token, 'after');
  });

  it('deleting an API key ends the tokens it got, and only those', async () => {
    const key = await expectStatus(200, 'POST', `${platform.cp}/api-keys`, {
      token: owner.token,
      body: { name: 'ci' },
    });
    const viaKey = await platform.scopedToken(key.key, ws, ['deployments:read']);
    const viaSession = await platform.scopedToken(owner.token, ws, ['deployments:read']);
    await withoutHeartbeats(async () => {
      await expectStatus(204, 'DELETE', `${platform.cp}/api-keys/${key.apiKeyId}`, { token: owner.token });
      await refusedAsRevoked(viaKey.token, "a deleted key's token");
    });
    await accepted(viaSession.token, "the owner's session token");
  });

  it('disabling a user ends their tokens at once; changing a password ends those of the other sessions', async () => {
    const disabled = await platform.member(owner.token, owner.organizationId, 'member');
    const issued = await platform.scopedToken(disabled.token, ws, ['deployments:read']);
    await withoutHeartbeats(async () => {
      await expectStatus(200, 'POST', `${platform.cp}/users/${disabled.userId}/disable`, {
        token: platform.adminToken,
      });
      await refusedAsRevoked(issued.token, "a disabled user's token");
    });

    const changing = await platform.member(owner.token, owner.organizationId, 'member');
    const otherSession = await signIn(changing.email);
    const fromOther = await platform.scopedToken(otherSession, ws, ['deployments:read']);
    const fromThis = await platform.scopedToken(changing.token, ws, ['deployments:read']);
    await withoutHeartbeats(async () => {
      await expectStatus(200, 'POST', `${platform.cp}/me/password`, {
        token: changing.token,
        body: { currentPassword: 'e2e-user-password', newPassword: 'a-new-password-2' },
      });
      await refusedAsRevoked(fromOther.token, 'a token of a session the password change ended');
    });
    await accepted(fromThis.token, 'a token of the session that changed the password');
  });

  it('a log followed with a token revoked since stops being served: its stream ends, and is refused again', async () => {
    const { jobs } = await platform.deploy(owner.token, ws, {
      'sovereign.yaml':
        'jobs:\n  - name: ticker\n    run: i=0; while [ $i -lt 1200 ]; do echo tick $i; i=$((i+1)); sleep 0.05; done\n',
    });
    const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobs.ticker}/runs`, { token: owner.token });
    const issued = await platform.scopedToken(owner.token, ws, ['runs:logs']);
    const url = `${owner.plane.url}/api/v1/runs/${run.runId}/logs?follow=true`;
    await platform.waitFor(
      async () =>
        (await call('GET', url.replace('follow=true', 'limit=1'), { token: issued.token })).body?.data?.length > 0,
      'the run to print',
    );
    const stream = await fetch(url, { headers: { authorization: `Bearer ${issued.token}` } });
    assert.equal(stream.status, 200);
    let text = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
      }
    })();
    await platform.waitFor(async () => text.includes('event: line'), 'lines to be followed');
    await withoutHeartbeats(async () => {
      await expectStatus(200, 'POST', `${platform.cp}/dataplane-tokens/${issued.tokenId}/revoke`, {
        token: owner.token,
      });
      await refusedAsRevoked(issued.token, 'the follower’s token');
    });
    // The stream ends within a poll of the revocation reaching the data plane, long before
    // the run does (a minute of ticks): no end event, as the run goes on.
    await Promise.race([
      reading,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the stream went on')), 10_000)),
    ]);
    assert.doesNotMatch(text, /event: end/);
    const again = await fetch(url, { headers: { authorization: `Bearer ${issued.token}` } });
    assert.equal(again.status, 401);
    await again.body?.cancel();
    await expectStatus(200, 'POST', `${platform.cp}/runs/${run.runId}/cancel`, { token: owner.token });
  });

  it("administrators list a workspace's live tokens and revoke any; the audit names each issued token", async () => {
    const member = await platform.member(owner.token, owner.organizationId, 'member');
    const issued = await platform.scopedToken(member.token, ws, ['deployments:read']);
    assertProblem(
      await call('GET', `${platform.cp}/workspaces/${ws}/dataplane-tokens`, { token: member.token }),
      403,
      'insufficient_role',
      "a member listing the workspace's tokens",
    );
    const listed = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/dataplane-tokens`, {
      token: owner.token,
    });
    const row = listed.data.find((t: { tokenId: string }) => t.tokenId === issued.tokenId);
    assert.ok(row !== undefined, 'the member’s token is listed');
    assert.equal(row.email, member.email);
    assert.equal(row.issuedVia, 'session');
    assert.equal(row.revokedAt, null);

    await withoutHeartbeats(async () => {
      await expectStatus(200, 'POST', `${platform.cp}/dataplane-tokens/${issued.tokenId}/revoke`, {
        token: owner.token,
      });
      await refusedAsRevoked(issued.token, 'a token revoked by an administrator');
    });
    const again = await expectStatus(200, 'GET', `${platform.cp}/workspaces/${ws}/dataplane-tokens`, {
      token: owner.token,
    });
    assert.notEqual(again.data.find((t: { tokenId: string }) => t.tokenId === issued.tokenId)?.revokedAt, null);

    const audit = await expectStatus(200, 'GET', `${platform.cp}/organizations/${owner.organizationId}/audit-events`, {
      token: owner.token,
    });
    assert.ok(
      audit.data.some(
        (e: { action: string; target: { type: string; id: string } }) =>
          e.action === 'dataplane_token.issue' && e.target.type === 'dataplane_token' && e.target.id === issued.tokenId,
      ),
      'the issuing event names the token id',
    );
  });
});
