import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RunStatuses } from '@sovereign/contract/run-states';
import { statusWord } from '../src/index.ts';

it('writes a status as people read it, the same in the CLI and the dashboard: every underscore a space', () => {
  assert.equal(statusWord('timed_out'), 'timed out');
  assert.equal(statusWord('queued'), 'queued');
  for (const status of RunStatuses) assert.doesNotMatch(statusWord(status), /_/, status);
});
