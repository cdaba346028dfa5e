import type { Platform } from '../../tests/support/platform.ts';
import type { BenchPostgres } from './postgres.ts';
import type { Figure, Storage, Target } from './report.ts';

/** What every benchmark module gets: one platform on one database, and where to put its figures. */
export interface BenchContext {
  target: Target;
  /** Where the data planes keep bundles and outputs: their disks, or a bucket (s3rver on loopback). */
  storage: Storage;
  platform: Platform;
  smoke: boolean;
  /** A scratch directory for this target, removed at the end. */
  scratch: string;
  /** The PostgreSQL server the peer runs on; undefined when none was available. */
  postgres: BenchPostgres | undefined;
  /** Memo shared across targets, so a peer is measured once per run. */
  peers: Map<string, Promise<unknown>>;
  figures: Figure[];
  details: Record<string, unknown>;
  log(message: string): void;
}

/** Measures the peer once per run (the first target to ask does it); undefined without PostgreSQL. */
export function peerOnce<T>(
  ctx: BenchContext,
  key: string,
  measure: (url: string) => Promise<T>,
): Promise<T | undefined> {
  if (ctx.postgres === undefined) return Promise.resolve(undefined);
  const url = ctx.postgres.url;
  let memo = ctx.peers.get(key) as Promise<T> | undefined;
  if (memo === undefined) {
    memo = measure(url);
    ctx.peers.set(key, memo);
  }
  return memo;
}

/** The key of a bench's details for this run's database and storage: `deploy.postgres`, `deploy.postgres.s3`. */
export function detailsKey(ctx: Pick<BenchContext, 'target' | 'storage'>, bench: string): string {
  return `${bench}.${ctx.target}${ctx.storage === 's3' ? '.s3' : ''}`;
}
