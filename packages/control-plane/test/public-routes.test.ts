import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ControlPlaneRoutes } from '@sovereign/contract';
import { assertRouteTableServed } from '@sovereign/server-kit/testing';
import { api, onFlowDatabase } from './support/harness.ts';

/**
 * The contract's table of the control plane's public routes (what @sovereign/client
 * calls) against the OpenAPI document the control plane serves (assertRouteTableServed).
 */
onFlowDatabase('the contract’s table of public routes', (harness) => {
  it('names served routes with the schemas they are served with', async () => {
    const answer = await harness().request('GET', `${api}/openapi.json`);
    assert.equal(answer.status, 200, answer.text);
    const checked = assertRouteTableServed(answer.body, api, ControlPlaneRoutes);
    assert.ok(checked >= 30, `${checked} routes in the table`);
  });
});
