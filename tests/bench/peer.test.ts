import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { GraphilePeer } from '../../bench/peers/graphile.ts';

const url = process.env.SOV_BENCH_DATABASE_URL || process.env.SOV_TEST_DATABASE_URL;

// A bench whose peer broke once waited for it for good (a worker had died of an error in
// its task): a broken peer now fails the measurement at once, and the other benches run.
describe('the peer of the benches, broken: the measurement fails at once, never waits forever', {
  skip: url ? false : 'the peer needs PostgreSQL (SOV_TEST_DATABASE_URL)',
  timeout: 60_000,
}, () => {
  it('a worker process that dies fails the jobs waited on', async () => {
    const peer = await GraphilePeer.start(url as string, 1, 2);
    try {
      await peer.latencies('noop', 1);
      execFileSync('kill', ['-KILL', String(peer.workerPids()[0])]);
      await assert.rejects(peer.latencies('noop', 2), /a graphile-worker process ended \(SIGKILL\)/);
    } finally {
      await peer.stop();
    }
  });

  it('a task that fails (its jail cannot be made) fails the measurement, without graphile-worker’s retries', async () => {
    const peer = await GraphilePeer.start(url as string, 1, 2, { PATH: '/nonexistent' });
    try {
      await assert.rejects(peer.latencies('jail', 2), /a peer task failed: .*bwrap ended \(never started\)/);
    } finally {
      await peer.stop();
    }
  });
});
