import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TokenType } from '@sovereign/contract';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { api, eachDatabase } from './support/harness.ts';

eachDatabase('scoped data plane tokens and signing keys', (h) => {
  const issuer = 'http://127.0.0.1:8080';

  /** Verifies as a data plane does: against the JWKS as published right now. */
  async function verify(token: string, audience: string) {
    const jwks = await h().expect(200, 'GET', '/.well-known/jwks.json');
    return jwtVerify(token, createLocalJWKSet(jwks), { issuer, audience, typ: TokenType.scoped });
  }

  it('signs an Ed25519 token with the design’s claims that verifies with the published JWKS', async () => {
    const t = await h().tenant('claims');
    const before = Math.floor(Date.now() / 1000);
    const issued = await h().scopedToken(t.people.member.token, t.workspace.workspaceId, [
      'deployments:write',
      'runs:logs',
    ]);
    assert.equal(issued.dataplane.dataplaneId, t.dataplane.dataplaneId);
    const header = decodeProtectedHeader(issued.token);
    assert.equal(header.alg, 'EdDSA');
    assert.equal(typeof header.kid, 'string');
    const { payload } = await verify(issued.token, t.dataplane.dataplaneId);
    assert.equal(payload.iss, issuer);
    assert.equal(payload.sub, t.people.member.userId);
    assert.equal(payload.aud, t.dataplane.dataplaneId);
    assert.equal(payload.ws, t.workspace.workspaceId);
    assert.equal(payload.region, t.regionId);
    assert.equal(payload.org, t.organizationId);
    assert.equal(payload.scope, 'deployments:write runs:logs');
    assert.equal(payload.jti, issued.tokenId);
    assert.ok((payload.iat ?? 0) >= before - 1);
    assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 600, 'ten minutes at most');
    assert.equal(new Date((payload.exp ?? 0) * 1000).toISOString(), issued.expiresAt);
  });

  it('gives each role only its scopes', async () => {
    const t = await h().tenant('roles');
    const refused = await h().request('POST', `/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
      token: t.people.viewer.token,
      body: { scopes: ['runs:logs', 'variables:write'] },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'scope_not_allowed');
    assert.deepEqual(refused.body.refusedScopes, ['variables:write']);
    await h().scopedToken(t.people.viewer.token, t.workspace.workspaceId, ['runs:logs', 'state:read']);
    const tooLong = await h().request('POST', `/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
      token: t.people.owner.token,
      body: { scopes: ['runs:logs'], ttlSeconds: 3600 },
    });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.code, 'validation_failed');
  });

  it('fails with a different audience', async () => {
    const t = await h().tenant('aud');
    const issued = await h().scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
    await assert.rejects(verify(issued.token, '00000000-0000-4000-8000-000000000000'), errors.JWTClaimValidationFailed);
  });

  it('fails after expiry', async () => {
    const t = await h().tenant('exp');
    const short = await h().expect(200, 'POST', `/workspaces/${t.workspace.workspaceId}/dataplane-token`, {
      token: t.people.owner.token,
      body: { scopes: ['runs:logs'], ttlSeconds: 10 },
    });
    const jwks = await h().expect(200, 'GET', '/.well-known/jwks.json');
    await assert.rejects(
      jwtVerify(short.token, createLocalJWKSet(jwks), {
        issuer,
        audience: t.dataplane.dataplaneId,
        currentDate: new Date(Date.now() + 11_000),
      }),
      errors.JWTExpired,
    );
  });

  it('keeps verifying after a rotation, and fails once its key is retired', async () => {
    const t = await h().tenant('rotate');
    const issued = await h().scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
    const oldKid = decodeProtectedHeader(issued.token).kid;

    const rotated = await h().expect(200, 'POST', '/signing-keys/rotate', { token: h().adminToken });
    const states = Object.fromEntries(rotated.data.map((k: { kid: string; state: string }) => [k.kid, k.state]));
    assert.equal(states[oldKid ?? ''], 'retiring');
    const jwks = await h().expect(200, 'GET', '/.well-known/jwks.json');
    assert.equal(jwks.keys.length, 2, 'the active and the retiring key are published');
    await verify(issued.token, t.dataplane.dataplaneId);
    const fresh = await h().scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
    assert.notEqual(decodeProtectedHeader(fresh.token).kid, oldKid, 'new tokens use the new key');

    await h().expect(200, 'POST', '/signing-keys/retire', { token: h().adminToken });
    const after = await h().expect(200, 'GET', '/.well-known/jwks.json');
    assert.equal(after.keys.length, 1);
    assert.ok(!after.keys.some((k: { kid: string }) => k.kid === oldKid));
    await assert.rejects(verify(issued.token, t.dataplane.dataplaneId), errors.JWKSNoMatchingKey);
    await verify(fresh.token, t.dataplane.dataplaneId);
  });

  it('does not put private key material in the JWKS', async () => {
    const jwks = await h().expect(200, 'GET', '/.well-known/jwks.json');
    for (const key of jwks.keys) {
      assert.equal(key.kty, 'OKP');
      assert.equal(key.crv, 'Ed25519');
      assert.equal(key.d, undefined);
    }
  });

  it('revokes a token: only its holder or an admin may, and the revocation is idempotent', async () => {
    const t = await h().tenant('revoke');
    const issued = await h().scopedToken(t.people.member.token, t.workspace.workspaceId, ['runs:logs']);
    const byViewer = await h().request('POST', `/dataplane-tokens/${issued.tokenId}/revoke`, {
      token: t.people.viewer.token,
    });
    assert.equal(byViewer.status, 403);
    assert.equal(byViewer.body.code, 'insufficient_role');
    const stranger = await h().user('stranger');
    const byStranger = await h().request('POST', `/dataplane-tokens/${issued.tokenId}/revoke`, {
      token: stranger.token,
    });
    assert.equal(byStranger.status, 404);
    assert.equal(byStranger.body.code, 'token_not_found');
    const first = await h().expect(200, 'POST', `/dataplane-tokens/${issued.tokenId}/revoke`, {
      token: t.people.member.token,
    });
    const second = await h().expect(200, 'POST', `/dataplane-tokens/${issued.tokenId}/revoke`, {
      token: t.people.admin.token,
    });
    assert.equal(first.revokedAt, second.revokedAt);
  });

  it('keeps only metadata of issued tokens, never the token itself', async () => {
    const t = await h().tenant('meta');
    const issued = await h().scopedToken(t.people.owner.token, t.workspace.workspaceId, ['runs:logs']);
    const rows = await h().plane.deps.db.query('SELECT * FROM issued_tokens WHERE jti = $1', [issued.tokenId]);
    assert.equal(rows.length, 1);
    assert.ok(!JSON.stringify(rows).includes(issued.token.split('.')[2] ?? 'x'));
  });

  it('serves the OpenAPI document generated from the validating schemas', async () => {
    const doc = await h().expect(200, 'GET', `${api}/openapi.json`);
    assert.equal(doc.openapi, '3.1.0');
    const create = doc.paths['/api/public/v1/workspaces/{workspaceId}/dataplane-token'].post;
    const body = create.requestBody.content['application/json'].schema;
    assert.equal(body.additionalProperties, false);
    assert.deepEqual(body.required, ['scopes']);
    assert.equal(doc.paths['/api/internal/v1/dataplanes/heartbeat'], undefined, 'internal routes are not public');
  });
});
