import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packProject } from '../tests/support/projects.ts';
import { buildWheel } from '../tests/support/wheels.ts';
import { realtimeMs } from './lib/clock.ts';
import type { BenchContext } from './lib/context.ts';
import { call, deployProject } from './lib/platform.ts';

/** How many packages the bench's project pins: the 20, 3 in smoke mode. */
export const benchPackages = (smoke: boolean) => (smoke ? 3 : 20);

/**
 * A wheelhouse of small pure-Python packages (the region's mirror, in a directory), for
 * the data plane to build from: a directory of its own under the system's temporary one,
 * which a build's jail user can reach (a bench's scratch directory is private).
 */
export async function makeBenchWheelhouse(count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sov-bench-wheels-'));
  for (let i = 1; i <= count; i++) {
    buildWheel(dir, `bench-package-${i}`, '1.0.0', {
      [`bench_package_${i}/__init__.py`]: `VALUE = ${i}\n`,
    });
  }
  return dir;
}

/**
 * Environments: a project pinning N packages from a local wheelhouse, deployed twice. The
 * first deploy builds its environment (a venv, pip install, in a jail); the second, with
 * the same requirements, finds it built. Seconds from the upload's first byte to the answer.
 */
export async function environmentsBench(ctx: BenchContext): Promise<void> {
  const count = benchPackages(ctx.smoke);
  const requirements = Array.from({ length: count }, (_, i) => `bench-package-${i + 1}==1.0.0\n`).join('');
  const files = {
    'sovereign.yaml': 'jobs:\n  - name: pipeline\n    run: python3 -c "import bench_package_1"\n',
    'requirements.txt': requirements,
  };
  // The first deploy (the tenant's) is the cold build; its time is taken around a second tenant's upload.
  const deployed = await deployProject(ctx.platform, 'us', 'environments', {
    'sovereign.yaml': files['sovereign.yaml'],
  });
  const upload = async () => {
    const began = realtimeMs();
    const answer = await call('POST', `${deployed.dp}/workspaces/${deployed.workspaceId}/deployments`, {
      token: deployed.token,
      raw: new Uint8Array(await packProject(files)),
      headers: { 'content-type': 'application/gzip' },
    });
    const seconds = (realtimeMs() - began) / 1000;
    if (answer.status !== 200) throw new Error(`deploy answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return { seconds, built: answer.body.environments?.[0]?.built === true };
  };
  const cold = await upload();
  const cached = await upload();
  if (!cold.built || cached.built) throw new Error(`expected one build then none: ${JSON.stringify({ cold, cached })}`);
  ctx.details[`environments.${ctx.target}`] = {
    packages: count,
    coldSeconds: cold.seconds,
    cachedSeconds: cached.seconds,
  };
  ctx.figures.push({
    bench: 'environments',
    name: `deploy with a cold build of ${count} Python packages`,
    target: ctx.target,
    value: cold.seconds,
    unit: 's',
    better: 'lower',
    note: 'venv + pip install from a local wheelhouse, in a jail',
  });
  ctx.figures.push({
    bench: 'environments',
    name: `deploy with its ${count} packages built before`,
    target: ctx.target,
    value: cached.seconds,
    unit: 's',
    better: 'lower',
    note: 'same requirements.txt: nothing is built',
  });
}
