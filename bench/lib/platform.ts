import type { DatabaseTarget } from '@sovereign/server-kit/testing';
import { call, dataScopes, expectStatus, Platform, type PlatformOptions } from '../../tests/support/platform.ts';
import { packProject } from '../../tests/support/projects.ts';
import { sleep } from './clock.ts';

export { call, expectStatus, Platform };

export type Tenant = Awaited<ReturnType<Platform['tenant']>>;

/**
 * The whole platform as processes (tests/support/platform.ts), quieter: the services log
 * warnings only (SOV_BENCH_LOG_LEVEL changes that), so the bench measures the platform
 * rather than its log lines travelling through pipes into this process.
 */
export function startPlatform(target: DatabaseTarget, options: PlatformOptions = {}): Promise<Platform> {
  const level = process.env.SOV_BENCH_LOG_LEVEL || 'warn';
  // SOV_BENCH_CPU_PROF=<dir>: every service writes a V8 CPU profile there when it stops.
  const profile: Record<string, string> = process.env.SOV_BENCH_CPU_PROF
    ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.SOV_BENCH_CPU_PROF}` }
    : {};
  return Platform.start(target, {
    // Node's defaults, as in production (the suites' services run WebAssembly unoptimized).
    nodeFlags: [],
    ...options,
    // Rate limits are a defence against abuse; the benches measure raw rates, token issuance
    // and triggers among them, from one workspace.
    controlPlaneEnv: {
      SOV_LOG_LEVEL: level,
      SOV_TOKEN_LIMIT_PER_CLIENT: '0',
      SOV_TRIGGER_LIMIT_PER_WORKSPACE: '0',
      SOV_LOGIN_LIMIT_PER_CLIENT: '0',
      SOV_LOGIN_LIMIT_PER_CLIENT_ACCOUNT: '0',
      ...profile,
      ...options.controlPlaneEnv,
    },
    dataplaneEnv: { SOV_LOG_LEVEL: level, ...profile, ...options.dataplaneEnv },
  });
}

/** A tenant's workspace with a project deployed on its data plane and its jobs known to the control plane. */
export interface Deployed {
  tenant: Tenant;
  token: string;
  /** The data plane's API root, `.../api/v1`. */
  dp: string;
  workspaceId: string;
  jobs: Record<string, string>;
}

export async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Makes a tenant in `region`, deploys `files` to its workspace and waits for the jobs to reach the control plane. */
export async function deployProject(
  platform: Platform,
  region: 'us' | 'eu',
  label: string,
  files: Record<string, string>,
  tenant?: Tenant,
): Promise<Deployed> {
  const t = tenant ?? (await platform.tenant(region, label));
  const workspaceId: string = t.workspace.workspaceId;
  const issued = await platform.scopedToken(t.token, workspaceId, dataScopes);
  const dp = `${issued.dataplane.url}/api/v1`;
  await waitUntil(
    async () =>
      (await call('GET', `${dp}/workspaces/${workspaceId}/deployments`, { token: issued.token })).status === 200,
    'the data plane to host the workspace',
  );
  const deployed = await expectStatus(200, 'POST', `${dp}/workspaces/${workspaceId}/deployments`, {
    token: issued.token,
    raw: new Uint8Array(await packProject(files)),
    headers: { 'content-type': 'application/gzip' },
  });
  const expected = deployed.jobs.length as number;
  let jobs: Record<string, string> = {};
  await waitUntil(async () => {
    const listed = await call('GET', `${platform.cp}/workspaces/${workspaceId}/jobs`, { token: t.token });
    if (listed.status !== 200) return false;
    const live = listed.body.data.filter((j: { deploymentId?: string; archived?: boolean }) => j.archived !== true);
    jobs = Object.fromEntries(live.map((j: { name: string; jobId: string }) => [j.name, j.jobId]));
    return Object.keys(jobs).length >= expected;
  }, 'the jobs to reach the control plane');
  return { tenant: t, token: issued.token, dp, workspaceId, jobs };
}

const terminal = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

/** Queues a run of a job through the public API; resolves to its id. */
export async function trigger(platform: Platform, userToken: string, jobId: string): Promise<string> {
  const run = await expectStatus(200, 'POST', `${platform.cp}/jobs/${jobId}/runs`, { token: userToken });
  return run.runId as string;
}

/** Waits until the control plane has the run's end; resolves to its status. */
export async function runEnded(platform: Platform, userToken: string, runId: string, pollMs = 10): Promise<string> {
  for (;;) {
    const run = await expectStatus(200, 'GET', `${platform.cp}/runs/${runId}`, { token: userToken });
    if (terminal.has(run.status)) return run.status as string;
    await sleep(pollMs);
  }
}
