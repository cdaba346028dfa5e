import type { ControlPlaneClient as ControlPlane } from '@sovereign/client';
import type { Dataplane, Job, MyOrganization as Organization, Region, Run, Workspace } from '@sovereign/contract';
import { NotFoundError, UsageError } from './errors.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return uuid.test(value);
}

/**
 * The one item whose id or name (case-insensitive) is `given`. None: NotFoundError with
 * the hint; several: an error that says how to tell them apart.
 */
export function pick<T>(
  items: readonly T[],
  given: string,
  keys: { id: (item: T) => string; name: (item: T) => string; describe: (item: T) => string },
  what: string,
  hint: string,
): T {
  const byId = items.find((item) => keys.id(item) === given.toLowerCase());
  if (byId !== undefined) return byId;
  const byName = items.filter((item) => keys.name(item).toLowerCase() === given.toLowerCase());
  if (byName.length === 1 && byName[0] !== undefined) return byName[0];
  if (byName.length > 1) {
    throw new NotFoundError(`"${given}" names several ${what}s: ${byName.map(keys.describe).join(', ')}.`, {
      hint: `Give the id instead.`,
    });
  }
  throw new NotFoundError(`No ${what} "${given}".`, { hint });
}

export async function findWorkspace(cp: ControlPlane, given: string): Promise<Workspace> {
  if (isUuid(given)) return cp.workspace(given.toLowerCase());
  return pick(
    await cp.workspaces(),
    given,
    {
      id: (w) => w.workspaceId,
      name: (w) => w.name,
      describe: (w) => `${w.workspaceId} (region ${w.dataResidency})`,
    },
    'workspace',
    'List your workspaces with: sov workspace list.',
  );
}

export async function findOrganization(cp: ControlPlane, given: string): Promise<Organization> {
  return pick(
    await cp.organizations(),
    given,
    { id: (o) => o.organizationId, name: (o) => o.name, describe: (o) => o.organizationId },
    'organization',
    'List your organizations with: sov org list.',
  );
}

/**
 * The organization a command acts in: --org, else your only one, else the current
 * workspace's. Several and none given: say which exist.
 */
export async function chooseOrganization(
  cp: ControlPlane,
  given: string | undefined,
  current?: () => Promise<string | undefined>,
): Promise<Organization> {
  if (given !== undefined) return findOrganization(cp, given);
  const organizations = await cp.organizations();
  if (organizations.length === 1 && organizations[0] !== undefined) return organizations[0];
  if (organizations.length === 0) {
    throw new NotFoundError('You do not belong to any organization yet.', {
      hint: 'Create one with: sov org create <name>.',
    });
  }
  const currentId = await current?.().catch(() => undefined);
  const fromWorkspace = organizations.find((o) => o.organizationId === currentId);
  if (fromWorkspace !== undefined) return fromWorkspace;
  throw new UsageError(
    `You belong to several organizations (${organizations.map((o) => o.name).join(', ')}).`,
    'Say which with --org <name>.',
  );
}

export async function findRegion(cp: ControlPlane, organizationId: string, given: string): Promise<Region> {
  return pick(
    await cp.regions(organizationId),
    given,
    { id: (r) => r.regionId, name: (r) => r.name, describe: (r) => r.regionId },
    'region',
    'List the regions you can use with: sov region list.',
  );
}

/** A region the user may use anywhere (a shared one, or one of their organizations'), by name or id. */
export async function findUsableRegion(cp: ControlPlane, given: string): Promise<Region> {
  return pick(
    await cp.regions(),
    given,
    { id: (r) => r.regionId, name: (r) => r.name, describe: (r) => r.regionId },
    'region',
    'List the regions you can use with: sov region list.',
  );
}

export async function findDataplane(cp: ControlPlane, given: string, regionIds?: string[]): Promise<Dataplane> {
  if (isUuid(given)) return cp.dataplane(given.toLowerCase());
  return pick(
    await cp.dataplanes(regionIds),
    given,
    { id: (d) => d.dataplaneId, name: (d) => d.name, describe: (d) => `${d.dataplaneId} (region ${d.regionId})` },
    'data plane',
    'List data planes with: sov dataplane list.',
  );
}

export async function findJob(cp: ControlPlane, workspace: Workspace, given: string): Promise<Job> {
  const jobs = await cp.jobs(workspace.workspaceId, { includeArchived: true });
  const active = jobs.filter((j) => !j.archived);
  const job =
    jobs.find((j) => j.jobId === given.toLowerCase()) ??
    active.find((j) => j.name === given) ??
    jobs.find((j) => j.name === given);
  if (job === undefined) {
    throw new NotFoundError(`Workspace ${workspace.name} has no job "${given}".`, {
      code: 'job_not_found',
      hint:
        active.length === 0
          ? 'Deploy a project first: sov deploy <dir>.'
          : `Its jobs: ${active.map((j) => j.name).join(', ')} (sov job list).`,
    });
  }
  return job;
}

/**
 * A run by its id, or by the first characters of its id (as tables show them) among
 * the recent runs of the current workspace.
 */
export async function findRun(cp: ControlPlane, given: string, workspace: () => Promise<Workspace>): Promise<Run> {
  if (isUuid(given)) return cp.run(given.toLowerCase());
  if (!/^[0-9a-f-]{4,}$/i.test(given)) {
    throw new UsageError(`"${given}" is not a run id.`, 'Run ids look like 3f2a9c1e or the full UUID: sov run list.');
  }
  const { data } = await cp.runs({ workspaceId: (await workspace()).workspaceId, limit: 200 });
  const matches = data.filter((r) => r.runId.startsWith(given.toLowerCase()));
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  if (matches.length > 1) {
    throw new NotFoundError(`"${given}" is the start of several runs' ids.`, { hint: 'Give more of the id.' });
  }
  throw new NotFoundError(`No recent run of this workspace has an id starting with "${given}".`, {
    code: 'run_not_found',
    hint: 'List runs with: sov run list (or give the full id).',
  });
}
