import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const benches = ['tokens', 'dispatch', 'throughput', 'logs', 'deploy', 'environments', 'scheduler', 'scale'];
const withPeer = Boolean(process.env.SOV_BENCH_DATABASE_URL || process.env.SOV_TEST_DATABASE_URL);

// The benchmarks never run in npm test; their smoke mode does (tiny sizes, PGlite), so
// they cannot rot. Nothing here looks at a timing.
describe(`npm run bench -- --smoke: every benchmark at tiny sizes${withPeer ? ', with the peer on PostgreSQL' : ''}`, () => {
  let out: string;
  let results: any;
  let printed = '';
  let code: number | null;

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'sov-bench-smoke-'));
    const child = spawn(process.execPath, [join(root, 'bench/run.ts'), '--smoke', `--out=${out}`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    // Two platforms: every bench on the filesystem, then deploy and logs on object storage.
    const killer = setTimeout(() => child.kill('SIGKILL'), 360_000);
    [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(killer);
    const files = await readdir(out);
    if (files.includes('latest.json')) results = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8'));
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('exits 0 and prints the table of figures with their ratios and goals', () => {
    assert.equal(code, 0, printed);
    assert.match(printed, /bench\s+figure\s+db\s+ours\s+peer\s+ours\/peer\s+goal/);
    assert.match(printed, /results: /);
  });

  it('writes every benchmark’s figures as JSON, each a finite number with its unit', () => {
    assert.ok(results, `no latest.json was written; the run printed:\n${printed}`);
    assert.equal(results.meta.mode, 'smoke');
    for (const bench of benches) {
      const figures = results.figures.filter((f: any) => f.bench === bench);
      assert.ok(figures.length > 0, `no figure from ${bench}`);
      for (const f of figures) {
        assert.ok(Number.isFinite(f.value), `${bench} ${f.name}: ${f.value}`);
        assert.equal(f.target, 'pglite');
        assert.ok(f.unit.length > 0);
      }
    }
    // Deploy and logs run again with the data planes on object storage, beside the filesystem.
    for (const bench of ['deploy', 'logs']) {
      const stores = new Set(results.figures.filter((f: any) => f.bench === bench).map((f: any) => f.storage));
      assert.deepEqual([...stores].sort(), ['fs', 's3'], `${bench} on both storages`);
    }
    assert.ok(results.details['deploy.pglite.s3'], 'the object storage run’s details are kept apart');
    const dispatch = results.figures.find((f: any) => f.bench === 'dispatch');
    assert.deepEqual(dispatch.goal, { op: '<', value: 10 });
  });

  it(
    withPeer
      ? 'measures graphile-worker on PostgreSQL next to dispatch and throughput, with a ratio'
      : 'says plainly that the peer was not measured without PostgreSQL',
    () => {
      const compared = results.figures.filter((f: any) => f.bench === 'dispatch' || f.bench === 'throughput');
      if (withPeer) {
        for (const f of compared) {
          assert.match(f.peer.name, /graphile-worker/);
          // Values only: at smoke sizes on a busy machine a latency can even be negative
          // (a job's start stamped before the trigger's answer was read), so no sign is asserted.
          assert.ok(Number.isFinite(f.peer.value), `${f.name}: peer ${f.peer.value}`);
          assert.equal(f.ratio, f.peer.value === 0 ? null : f.value / f.peer.value, `${f.name}: ratio`);
        }
        // Jailed data planes are compared with the peer's task starting the same jail, too.
        if (process.env.SOV_TEST_SANDBOX !== 'off') {
          for (const bench of ['dispatch', 'throughput']) {
            const same = compared.filter((f: any) => f.bench === bench && /same jail/.test(f.peer.name));
            assert.ok(same.length > 0, `${bench}: no figure against the peer's jailed task`);
          }
        }
      } else {
        for (const f of compared) assert.equal(f.peer, undefined);
        assert.ok(results.meta.notes.some((n: string) => /peer was not measured/.test(n)));
      }
    },
  );
});
