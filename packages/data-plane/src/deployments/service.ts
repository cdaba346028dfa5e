import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type DeploymentReport, type JobMetadata, protocolVersion } from '@sovereign/contract';
import type { Database, Queryable } from '@sovereign/server-kit/sql';
import type { Environments } from '../environments/builder.ts';
import { type EnvironmentSpec, environmentsOf, type PackageSources } from '../environments/definition.ts';
import { DigestMismatchProblem } from '../http/digest.ts';
import type { RunLimits } from '../launch/limits.ts';
import type { ArtifactStore } from '../storage/artifacts.ts';
import type { Row, With } from '../storage/tables.ts';
import { type BundleLimits, receiveBundle } from './bundle.ts';
import { DeploymentNotFoundProblem, type Finding, ManifestInvalidProblem } from './errors.ts';
import { jobMetadata, type ManifestJob, parseManifest } from './manifest.ts';

export interface JobChanges {
  added: string[];
  updated: string[];
  unchanged: string[];
  archived: string[];
}

export interface UploadResult {
  /** Null for a dry run: nothing was stored. */
  deploymentId: string | null;
  dryRun: boolean;
  digest: string;
  sizeBytes: number;
  jobs: JobMetadata[];
  /** Against the deployment that was current when this one was checked (or stored). */
  changes: JobChanges;
  environments: Array<{ kind: 'python' | 'node'; built: boolean }>;
}

export interface UploadOptions {
  dryRun: boolean;
  /** The user whose scoped token made the upload. */
  createdBy: string;
  /**
   * Called inside the transaction that stores the deployment, with the metadata
   * report for the control plane (no command in it): write it to the outbox there,
   * and the report exists exactly when the deployment does.
   */
  onStored?: (tx: Queryable, report: DeploymentReport) => Promise<void>;
  /** Hears an environment's build output, line by line, while it is built. */
  onBuildLine?: (line: string) => void;
  /** `sha256:<hex>` the client announced (its Digest header): other bytes are refused, nothing stored. */
  expectedDigest?: string;
}

export interface DeploymentInfo {
  deploymentId: string;
  workspaceId: string;
  digest: string;
  sizeBytes: number;
  jobs: JobMetadata[];
  createdBy: string;
  createdAt: string;
  /** The workspace's newest deployment: the one runs use. */
  current: boolean;
}

export interface DeploymentsOptions {
  db: Database;
  store: ArtifactStore;
  limits: BundleLimits;
  /** The most a job's `limits:` may ask of this data plane: more is refused at deploy. */
  maxRunLimits?: RunLimits;
  /** Where uploads are received; the store's staging directory (same filesystem) by default. */
  tmpDir?: string;
  /** Builds the environments bundles declare; without it, their lock files are files like any other. */
  environments?: Environments;
  sources?: PackageSources;
}

/** A deployment's row as `infoColumns` select it, its jobs as the manifest gave them, and whether it is the newest. */
type DeploymentRow = With<
  Row<'deployments', 'deployment_id' | 'workspace_id' | 'digest' | 'size_bytes' | 'jobs' | 'created_by' | 'created_at'>,
  { jobs: ManifestJob[] }
> & { current: boolean };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const infoColumns = 'deployment_id, workspace_id, digest, size_bytes, jobs, created_by, created_at';
/** The newest row of a workspace: served by the (workspace_id, created_at DESC, deployment_id DESC) index. */
const newestFirst = 'ORDER BY created_at DESC, deployment_id DESC';
/** One page of history: the API has no cursor for deployments yet. */
const listLimit = 200;

/** JSON with object keys sorted: jsonb hands keys back in its own order, not the one written. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** A job is updated when anything in its definition changed, its command included. */
export function compareJobs(previous: ManifestJob[], next: ManifestJob[]): JobChanges {
  const before = new Map(previous.map((j) => [j.name, canonical(j)]));
  const changes: JobChanges = { added: [], updated: [], unchanged: [], archived: [] };
  for (const job of next) {
    const old = before.get(job.name);
    if (old === undefined) changes.added.push(job.name);
    else (old === canonical(job) ? changes.unchanged : changes.updated).push(job.name);
  }
  const names = new Set(next.map((j) => j.name));
  for (const job of previous) if (!names.has(job.name)) changes.archived.push(job.name);
  return changes;
}

function toInfo(row: DeploymentRow): DeploymentInfo {
  return {
    deploymentId: row.deployment_id,
    workspaceId: row.workspace_id,
    digest: row.digest,
    sizeBytes: row.size_bytes,
    jobs: row.jobs.map(jobMetadata),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    current: row.current,
  };
}

/**
 * A workspace's deployments: each upload is validated whole, then stored as a new
 * immutable version (artifact first, then its row, in one transaction with the
 * report for the control plane); a failed or refused upload leaves the current
 * deployment as it was and nothing behind.
 */
export class Deployments {
  readonly #db: Database;
  readonly #store: ArtifactStore;
  readonly #limits: BundleLimits;
  readonly #maxRunLimits: RunLimits | undefined;
  readonly #tmpDir: string;
  readonly #environments: Environments | undefined;
  readonly #sources: PackageSources;

  constructor(options: DeploymentsOptions) {
    this.#environments = options.environments;
    this.#sources = options.sources ?? {};
    this.#db = options.db;
    this.#store = options.store;
    this.#limits = options.limits;
    this.#maxRunLimits = options.maxRunLimits;
    this.#tmpDir = options.tmpDir ?? options.store.stagingDir;
  }

  /** The key a deployment's bundle is stored under. */
  static artifactKey(workspaceId: string, deploymentId: string): string {
    return `bundles/${workspaceId.toLowerCase()}/${deploymentId}.tar.gz`;
  }

  async upload(workspaceId: string, body: Readable, options: UploadOptions): Promise<UploadResult> {
    if (!uuidPattern.test(workspaceId)) {
      body.destroy();
      throw new TypeError(`workspaceId must be a UUID: ${JSON.stringify(workspaceId)}`);
    }
    const bundle = await receiveBundle(body, this.#tmpDir, this.#limits);
    let stored: string | undefined;
    try {
      if (options.expectedDigest !== undefined && options.expectedDigest !== bundle.digest) {
        throw new DigestMismatchProblem('bundle', options.expectedDigest, bundle.digest);
      }
      const manifest = parseManifest(bundle.manifestText, { maxLimits: this.#maxRunLimits });
      if (!manifest.ok) throw new ManifestInvalidProblem(manifest.errors);
      const result = { dryRun: options.dryRun, digest: bundle.digest, sizeBytes: bundle.sizeBytes };
      const jobs = manifest.metadata;
      const { specs, storedJobs } = this.#environmentsOf(manifest.jobs, bundle.environmentFiles);
      if (options.dryRun) {
        const current = await this.#newest(this.#db, workspaceId);
        const missing = new Set((await this.#environments?.missing(specs))?.map((spec) => spec.digest));
        const environments = specs.map((spec) => ({ kind: spec.kind, built: missing.has(spec.digest) }));
        return {
          deploymentId: null,
          ...result,
          jobs,
          changes: compareJobs(current?.jobs ?? [], manifest.jobs),
          environments,
        };
      }
      // Built before anything is stored: a build that fails refuses the deployment, and the
      // current one stays as it was.
      const built = new Set(await this.#environments?.ensure(specs, options.onBuildLine));
      const environments = specs.map((spec) => ({ kind: spec.kind, built: built.has(spec.digest) }));

      const deploymentId = randomUUID();
      const key = Deployments.artifactKey(workspaceId, deploymentId);
      await this.#store.putFile(key, bundle.tempPath);
      stored = key;
      const changes = await this.#db.transaction(async (tx) => {
        // One upload of a workspace at a time, across instances: the changes are
        // against the deployment this one really follows, and it is stored strictly
        // after it, so "newest" is the order of commits.
        await tx.query("SELECT pg_advisory_xact_lock(hashtext('sovereign.deployments'), hashtext($1))", [
          workspaceId.toLowerCase(),
        ]);
        const current = await this.#newest(tx, workspaceId);
        const [row] = await tx.query<Row<'deployments', 'created_at'>>(
          `INSERT INTO deployments (deployment_id, workspace_id, digest, size_bytes, artifact_key, manifest, jobs,
                                    created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                   GREATEST(clock_timestamp(), $9::timestamptz + interval '1 millisecond'))
           RETURNING created_at`,
          [
            deploymentId,
            workspaceId,
            bundle.digest,
            bundle.sizeBytes,
            key,
            bundle.manifestText,
            JSON.stringify(storedJobs),
            options.createdBy,
            current?.created_at ?? null,
          ],
        );
        await options.onStored?.(tx, {
          protocolVersion,
          deploymentId,
          workspaceId,
          digest: bundle.digest,
          sizeBytes: bundle.sizeBytes,
          createdBy: options.createdBy,
          createdAt: (row?.created_at ?? new Date()).toISOString(),
          jobs,
        });
        return compareJobs(current?.jobs ?? [], manifest.jobs);
      });
      stored = undefined;
      return { deploymentId, ...result, jobs, changes, environments };
    } finally {
      await rm(bundle.tempPath, { force: true });
      if (stored !== undefined) await this.#store.delete(stored);
    }
  }

  /**
   * The environments the jobs need (the root's, or each job's own directory's), each once,
   * and the jobs with theirs. A job naming a directory that defines none is refused.
   */
  #environmentsOf(jobs: ManifestJob[], files: ReadonlyMap<string, Buffer>) {
    if (this.#environments === undefined) return { specs: [], storedJobs: jobs };
    const specs = new Map<string, EnvironmentSpec>();
    const byDir = new Map<string, EnvironmentSpec[]>();
    const problems: Finding[] = [];
    const storedJobs = jobs.map((job, i) => {
      const dir = job.environmentDir ?? '';
      let found = byDir.get(dir);
      if (found === undefined) {
        found = environmentsOf(files, this.#sources, dir);
        byDir.set(dir, found);
      }
      if (dir !== '' && found.length === 0) {
        problems.push({
          path: `jobs[${i}].environment`,
          message: `${dir} holds no requirements.txt, nor a package.json with its package-lock.json`,
        });
      }
      for (const spec of found) specs.set(spec.digest, spec);
      if (found.length === 0) return job;
      const environments = found.map(({ kind, digest }) => ({ kind, digest, ...(dir === '' ? {} : { dir }) }));
      return { ...job, environments };
    });
    if (problems.length > 0) throw new ManifestInvalidProblem(problems);
    return { specs: [...specs.values()], storedJobs };
  }

  async #newest(db: Queryable, workspaceId: string): Promise<DeploymentRow | undefined> {
    const [row] = await db.query<DeploymentRow>(
      `SELECT ${infoColumns}, true AS current FROM deployments WHERE workspace_id = $1 ${newestFirst} LIMIT 1`,
      [workspaceId],
    );
    return row;
  }

  async #row<Extra>(workspaceId: string, deploymentId: string, extra: string): Promise<DeploymentRow & Extra> {
    if (!uuidPattern.test(workspaceId) || !uuidPattern.test(deploymentId)) throw new DeploymentNotFoundProblem();
    const [row] = await this.#db.query<DeploymentRow & Extra>(
      `SELECT ${infoColumns}${extra},
              deployment_id = (SELECT deployment_id FROM deployments WHERE workspace_id = $1 ${newestFirst} LIMIT 1)
                AS current
         FROM deployments WHERE workspace_id = $1 AND deployment_id = $2`,
      [workspaceId, deploymentId],
    );
    if (row === undefined) throw new DeploymentNotFoundProblem();
    return row;
  }

  /** The workspace's deployments, newest (current) first. */
  async list(workspaceId: string): Promise<DeploymentInfo[]> {
    if (!uuidPattern.test(workspaceId)) return [];
    const rows = await this.#db.query<DeploymentRow>(
      `SELECT ${infoColumns}, false AS current FROM deployments WHERE workspace_id = $1 ${newestFirst} LIMIT ${listLimit}`,
      [workspaceId],
    );
    return rows.map((row, i) => toInfo({ ...row, current: i === 0 }));
  }

  /** One deployment of the workspace; a deployment of another workspace is not found. */
  async get(workspaceId: string, deploymentId: string): Promise<DeploymentInfo> {
    return toInfo(await this.#row(workspaceId, deploymentId, ''));
  }

  async current(workspaceId: string): Promise<DeploymentInfo | undefined> {
    if (!uuidPattern.test(workspaceId)) return undefined;
    const row = await this.#newest(this.#db, workspaceId);
    return row === undefined ? undefined : toInfo(row);
  }

  /** The manifest as uploaded, and its jobs with their commands (for this data plane's API and executor). */
  async manifest(workspaceId: string, deploymentId: string): Promise<{ text: string; jobs: ManifestJob[] }> {
    const row = await this.#row<Row<'deployments', 'manifest'>>(workspaceId, deploymentId, ', manifest');
    return { text: row.manifest, jobs: row.jobs };
  }

  /**
   * The bundle as uploaded, with its digest and size, for a client to download: a move to
   * another region copies it so, from this data plane to the other through the client.
   */
  async download(
    workspaceId: string,
    deploymentId: string,
  ): Promise<{ digest: string; sizeBytes: number; body: Readable }> {
    const row = await this.#row<Row<'deployments', 'artifact_key'>>(workspaceId, deploymentId, ', artifact_key');
    return {
      digest: row.digest,
      sizeBytes: Number(row.size_bytes),
      body: await this.#store.openRead(row.artifact_key),
    };
  }

  /** The bundle as uploaded (a gzipped tar), to make a working copy of. */
  async openBundle(workspaceId: string, deploymentId: string): Promise<Readable> {
    const row = await this.#row<Row<'deployments', 'artifact_key'>>(workspaceId, deploymentId, ', artifact_key');
    return this.#store.openRead(row.artifact_key);
  }
}
