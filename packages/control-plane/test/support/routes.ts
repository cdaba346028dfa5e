import assert from 'node:assert/strict';
import { type Operation, operationsOf } from '@sovereign/server-kit/testing';
import { api, type Harness } from './harness.ts';

export {
  assertProblem,
  fillPath,
  type JsonSchema,
  mistyped,
  type Operation,
  type Parameter,
  sample,
  unboundedInputs,
} from '@sovereign/server-kit/testing';

/** Every operation the control plane documents, read from the OpenAPI document it serves. */
export async function servedOperations(h: Harness): Promise<Operation[]> {
  const answer = await h.request('GET', `${api}/openapi.json`);
  assert.equal(answer.status, 200, answer.text);
  return operationsOf(answer.body, api);
}
