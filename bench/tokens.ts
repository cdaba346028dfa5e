import type { InitializeResponse } from '@sovereign/contract';
import { type TokenAgent, TokenVerifier } from '../packages/data-plane/src/auth/verify-token.ts';
import { realtimeMs } from './lib/clock.ts';
import type { BenchContext } from './lib/context.ts';
import { deployProject, expectStatus } from './lib/platform.ts';

const inFlight = 8;

/** Calls `once` with `inFlight` at a time for `seconds`; resolves to completions per second. */
async function rate(seconds: number, once: () => Promise<void>): Promise<number> {
  const until = realtimeMs() + seconds * 1000;
  const began = realtimeMs();
  let done = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (realtimeMs() < until) {
        await once();
        done += 1;
      }
    }),
  );
  return done / ((realtimeMs() - began) / 1000);
}

/**
 * Tokens: scoped token issuance per second on the control plane (`POST
 * /workspaces/{id}/dataplane-token`: session check, role, signature, a row and an audit
 * event), and verification per second on the data plane: over HTTP (a cheap scoped read,
 * the token checked on every request) and the verifier alone (signature, claims,
 * revocation, workspace, scope) in one core.
 */
export async function tokensBench(ctx: BenchContext): Promise<void> {
  const seconds = ctx.smoke ? 0.5 : 5;
  const deployed = await deployProject(ctx.platform, 'us', 'tokens', {
    'sovereign.yaml': 'jobs:\n  - name: small\n    run: "true"\n',
  });
  const cp = ctx.platform.cp;
  const issue = () =>
    expectStatus(200, 'POST', `${cp}/workspaces/${deployed.workspaceId}/dataplane-token`, {
      token: deployed.tenant.token,
      body: { scopes: ['state:read'] },
    });
  await rate(Math.min(1, seconds), async () => void (await issue()));
  const issuance = await rate(seconds, async () => void (await issue()));

  const { token } = await issue();
  const url = `${deployed.dp}/workspaces/${deployed.workspaceId}/jobs/small/state`;
  const read = async () => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    await response.arrayBuffer();
    if (response.status !== 200 && response.status !== 404) throw new Error(`state read answered ${response.status}`);
  };
  await rate(Math.min(1, seconds), read);
  const overHttp = await rate(seconds, read);

  // The data plane's own verifier, fed what its agent would hold after registering.
  const jwks = await expectStatus(200, 'GET', `${ctx.platform.controlPlane.url}/.well-known/jwks.json`);
  const plane = ctx.platform.dp('us-1');
  // Typed as the verifier's view of the agent: a member it starts to need fails tsc here.
  const agent: TokenAgent = {
    stoppedReason: undefined,
    identity: { issuer: ctx.platform.controlPlane.url, dataplaneId: plane.dataplaneId } as InitializeResponse,
    jwks: () => jwks,
    isRevoked: () => false,
    stillServes: () => true,
    learnHosts: async (ws: string) => ws === deployed.workspaceId,
    refreshJwks: async () => false,
  };
  const verifier = new TokenVerifier(agent, 30);
  const verifyOnce = async () => void (await verifier.verify(token, deployed.workspaceId, 'state:read'));
  await rate(Math.min(1, seconds), verifyOnce);
  const verifications = await rate(seconds, verifyOnce);

  ctx.details[`tokens.${ctx.target}`] = { issuancePerSecond: issuance, overHttp, verifications, inFlight };
  const push = (name: string, value: number, note: string) =>
    ctx.figures.push({ bench: 'tokens', name, target: ctx.target, value, unit: '/s', better: 'higher', note });
  push('issuance on the control plane', issuance, `POST dataplane-token, ${inFlight} in flight`);
  push('verified requests on the data plane (HTTP)', overHttp, `GET job state, ${inFlight} in flight`);
  push('verifications by the data plane verifier', verifications, 'TokenVerifier.verify in this process, one core');
}
