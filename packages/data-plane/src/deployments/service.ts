import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type DeploymentReport, type JobMetadata, protocolVersion } from '@sovereign/protocol';
import type { Database, Queryable } from '@sovereign/protocol/sql';
import type { ArtifactStore } from '../storage/artifacts.ts';
import { type BundleLimits, receiveBundle } from './bundle.ts';
import { DeploymentNotFoundProblem, ManifestInvalidProblem } from './errors.ts';
import { jobMetadata, type ManifestJob, parseManifest } from './manifest.ts';

export interface JobChanges {
  added: string[];
  updated: string[];
  unchanged: string[];
  archived: string[];
}

export interface UploadResult {
  deploymentId: string | null;
  dryRun: boolean;
  digest: string;
  sizeBytes: number;
  jobs: JobMetadata[];
  changes: JobChanges;
}

export interface DeploymentInfo {
  deploymentId: string;
  workspaceId: string;
  digest: string;
  sizeBytes: number;
  jobs: JobMetadata[];
  createdBy: string;
  createdAt: string;
  current: boolean;
}

interface DeploymentRow {
  deployment_id: string;
  workspace_id: string;
  digest: string;
  size_bytes: number;
  artifact_key: string;
  manifest: string;
  jobs: ManifestJob[];
  created_by: string;
  created_at: Date;
}

function compare(previous: ManifestJob[], next: ManifestJob[]): JobChanges {
  const before = new Map(previous.map((j) => [j.name, JSON.stringify(j)]));
  const changes: JobChanges = { added: [], updated: [], unchanged: [], archived: [] };
  for (const job of next) {
    const old = before.get(job.name);
    if (old === undefined) changes.added.push(job.name);
    else (old === JSON.stringify(job) ? changes.unchanged : changes.updated).push(job.name);
  }
  const names = new Set(next.map((j) => j.name));
  for (const job of previous) if (!names.has(job.name)) changes.archived.push(job.name);
  return changes;
}

/**
 * A workspace's deployments: each upload is validated whole, then stored as a new
 * immutable version (artifact first, then its row, atomically); a failed or refused
 * upload leaves the current deployment as it was and nothing behind.
 */
export class Deployments {
  readonly #db: Database;
  readonly #store: ArtifactStore;
  readonly #limits: BundleLimits;

  constructor(options: { db: Database; store: ArtifactStore; limits: BundleLimits }) {
    this.#db = options.db;
    this.#store = options.store;
    this.#limits = options.limits;
  }

  async upload(
    workspaceId: string,
    body: Readable,
    options: {
      dryRun: boolean;
      createdBy: string;
      onStored?: (tx: Queryable, report: DeploymentReport) => Promise<void>;
    },
  ): Promise<UploadResult> {
    const bundle = await receiveBundle(body, this.#store.stagingDir, this.#limits);
    let stored: string | undefined;
    try {
      const manifest = parseManifest(bundle.manifestText);
      if (!manifest.ok) throw new ManifestInvalidProblem(manifest.errors);
      const current = await this.#current(this.#db, workspaceId);
      const changes = compare(current?.jobs ?? [], manifest.jobs);
      const jobs = manifest.jobs.map(jobMetadata);
      const result = { dryRun: options.dryRun, digest: bundle.digest, sizeBytes: bundle.sizeBytes, jobs, changes };
      if (options.dryRun) return { deploymentId: null, ...result };

      const deploymentId = randomUUID();
      const key = `bundles/${workspaceId}/${deploymentId}.tar.gz`;
      await this.#store.putFile(key, bundle.tempPath);
      stored = key;
      const createdAt = new Date();
      await this.#db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO deployments (deployment_id, workspace_id, digest, size_bytes, artifact_key, manifest, jobs,
                                    created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            deploymentId,
            workspaceId,
            bundle.digest,
            bundle.sizeBytes,
            key,
            bundle.manifestText,
            JSON.stringify(manifest.jobs),
            options.createdBy,
            createdAt,
          ],
        );
        await options.onStored?.(tx, {
          protocolVersion,
          deploymentId,
          workspaceId,
          digest: bundle.digest,
          sizeBytes: bundle.sizeBytes,
          createdBy: options.createdBy,
          createdAt: createdAt.toISOString(),
          jobs,
        });
      });
      stored = undefined;
      return { deploymentId, ...result };
    } finally {
      await rm(bundle.tempPath, { force: true });
      if (stored !== undefined) await this.#store.delete(stored);
    }
  }

  async #current(db: Queryable, workspaceId: string): Promise<DeploymentRow | undefined> {
    const [row] = await db.query<DeploymentRow>(
      'SELECT * FROM deployments WHERE workspace_id = $1 ORDER BY created_at DESC, deployment_id DESC LIMIT 1',
      [workspaceId],
    );
    return row;
  }

  async #get(workspaceId: string, deploymentId: string): Promise<DeploymentRow> {
    const [row] = await this.#db.query<DeploymentRow>(
      'SELECT * FROM deployments WHERE workspace_id = $1 AND deployment_id = $2',
      [workspaceId, deploymentId],
    );
    if (row === undefined) throw new DeploymentNotFoundProblem();
    return row;
  }

  async list(workspaceId: string): Promise<DeploymentInfo[]> {
    const rows = await this.#db.query<DeploymentRow>(
      'SELECT * FROM deployments WHERE workspace_id = $1 ORDER BY created_at DESC, deployment_id DESC LIMIT 200',
      [workspaceId],
    );
    return rows.map((row, i) => ({
      deploymentId: row.deployment_id,
      workspaceId: row.workspace_id,
      digest: row.digest,
      sizeBytes: Number(row.size_bytes),
      jobs: row.jobs.map(jobMetadata),
      createdBy: row.created_by,
      createdAt: row.created_at.toISOString(),
      current: i === 0,
    }));
  }

  async current(workspaceId: string): Promise<DeploymentInfo | undefined> {
    return (await this.list(workspaceId))[0];
  }

  /** The manifest as uploaded, and its jobs with their commands (for this data plane's API and executor). */
  async manifest(workspaceId: string, deploymentId: string): Promise<{ text: string; jobs: ManifestJob[] }> {
    const row = await this.#get(workspaceId, deploymentId);
    return { text: row.manifest, jobs: row.jobs };
  }

  async openBundle(workspaceId: string, deploymentId: string): Promise<Readable> {
    const row = await this.#get(workspaceId, deploymentId);
    return this.#store.openRead(row.artifact_key);
  }
}
