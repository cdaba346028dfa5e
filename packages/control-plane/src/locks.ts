import type { Queryable } from '@sovereign/server-kit/sql';

/**
 * The advisory locks the control plane takes in its database, in one place so that no
 * two of them share a key: one-bigint keys for whole operations, and two-int keys (a
 * space and a hash of an id) for one of many things, a job.
 */
export const LockKeys = {
  /** Migrations of the control plane's database (held by migrate() for the session). */
  migrations: 0x50_56_01,
  /** A first start: one default organization and one administrator, however many replicas start. */
  bootstrap: 7001,
  /** A scheduler tick: one replica at a time fires due jobs and expires leases. */
  scheduler: 0x50_56_10,
  /** Openings, rotations and retirements of signing keys across replicas. */
  signingKeys: 0x50_56_4b,
  /** The space of the per-job locks that keep a job within its max_running. */
  jobRuns: 0x5056_0011,
} as const;

/** Waits for a one-bigint lock, held until the transaction ends. */
export async function lockForTransaction(tx: Queryable, key: number): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [key]);
}

/** Takes a one-bigint lock if it is free, held until the transaction ends; false when another holds it. */
export async function tryLockForTransaction(tx: Queryable, key: number): Promise<boolean> {
  const [row] = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [key]);
  return row?.ok === true;
}

/** Waits for the lock of one thing of a space (a job by its id), held until the transaction ends. */
export async function lockOneForTransaction(tx: Queryable, space: number, id: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [space, id]);
}
