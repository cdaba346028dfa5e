import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { ArtifactStore } from '../storage/artifacts.ts';
import { archiveKeyOf, type ChunkRecord, writeArchive } from './archive-format.ts';
import type { ArchiveClaim, ArchivedRange, LogStore } from './store.ts';

export interface LogArchiverOptions {
  logs: LogStore;
  artifacts: ArtifactStore;
  /** A run's lines go to the store this long after it ended (SOV_LOG_ARCHIVE_AFTER_SECONDS). */
  afterSeconds: number;
  /**
   * A run with this much text still in the database has it archived without waiting for
   * its end; an archived object holds about this much text at most, so reading a page
   * from the middle of one never unpacks more (SOV_LOG_ARCHIVE_BYTES).
   */
  bytes: number;
  log: FastifyBaseLogger;
  /** Between two looks for runs due. */
  pollMs?: number;
}

/** A range archived, and the object it went to. */
export type KeyedRange = ArchivedRange & { key: string };

/** How long a claim on a run's lines holds without being renewed: each range archived renews it. */
const leaseSeconds = 600;
/** Runs claimed at a time by one instance. */
const claimBatch = 4;
const defaultPollMs = 5_000;

/**
 * Moves runs' log lines from the database to the artifact store, on every instance:
 * a run's lines once it ended a while ago, a long run's as they pass a size. Each range
 * goes up as one object first, then its row goes in and its chunks go in one
 * transaction: a crash in between leaves an object no row names (never a line lost),
 * and a reader sees every line once. Two instances never archive the same range: a run
 * is claimed (FOR UPDATE SKIP LOCKED, then a lease) before its lines are read.
 */
export class LogArchiver {
  readonly #o: LogArchiverOptions;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: LogArchiverOptions) {
    this.#o = options;
  }

  start(): void {
    const tick = () => {
      this.#pass = this.archiveDue()
        .catch((error: unknown) => this.#o.log.warn({ err: error }, 'could not archive run logs'))
        .finally(() => {
          if (this.#closed) return;
          this.#timer = setTimeout(tick, this.#o.pollMs ?? defaultPollMs);
          this.#timer.unref();
        });
    };
    tick();
  }

  /** Stops looking, and waits for the range being archived (so the database outlives it). */
  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#pass;
  }

  /** Archives every run due now; answers the ranges archived, with their objects' keys. */
  async archiveDue(): Promise<KeyedRange[]> {
    const archived: KeyedRange[] = [];
    while (!this.#closed) {
      const claims = await this.#o.logs.claimArchiveWork({
        afterSeconds: this.#o.afterSeconds,
        liveBytes: this.#o.bytes,
        leaseSeconds,
        limit: claimBatch,
      });
      if (claims.length === 0) break;
      const before = archived.length;
      for (const claim of claims) {
        try {
          archived.push(...(await this.#archiveRun(claim)));
        } finally {
          await this.#o.logs.releaseArchiveClaim(claim);
        }
      }
      // Claimed but nothing moved (another instance was quicker): the next look, not at once.
      if (archived.length === before) break;
    }
    return archived;
  }

  /** A claimed run's lines up to the claim's last, in objects of about `bytes` of text each. */
  async #archiveRun(claim: ArchiveClaim): Promise<KeyedRange[]> {
    const { logs, artifacts } = this.#o;
    const archived: KeyedRange[] = [];
    let after = claim.archivedSeq;
    await mkdir(artifacts.stagingDir, { recursive: true });
    while (after < claim.throughSeq && !this.#closed) {
      const staged = join(artifacts.stagingDir, `log-${randomBytes(8).toString('hex')}`);
      try {
        const range: ArchivedRange = { firstSeq: 0, lastSeq: after, chunks: 0, textBytes: 0 };
        await writeArchive(this.#upTo(logs.chunksToArchive(claim.runId, after, claim.throughSeq), range), staged);
        // No chunk where lines were counted: nothing here to move.
        if (range.chunks === 0) break;
        const key = archiveKeyOf(claim.runId, range.firstSeq, range.lastSeq, claim.claimId);
        const { size } = await stat(staged);
        await artifacts.putFile(key, staged);
        if (!(await logs.recordArchive(claim, range, key, size, leaseSeconds))) {
          // Another instance archived these lines (this claim lapsed): this object is nobody's.
          await artifacts.delete(key);
          this.#o.log.info({ runId: claim.runId }, 'run log range archived by another instance');
          break;
        }
        this.#o.log.info(
          { runId: claim.runId, firstSeq: range.firstSeq, lastSeq: range.lastSeq, bytes: size },
          'run log range archived',
        );
        archived.push({ ...range, key });
        after = range.lastSeq;
      } finally {
        await rm(staged, { force: true });
      }
    }
    return archived;
  }

  /** The chunks of one object: until about `bytes` of text, and always at least one. */
  async *#upTo(chunks: AsyncGenerator<ChunkRecord>, range: ArchivedRange): AsyncGenerator<ChunkRecord> {
    for await (const chunk of chunks) {
      if (range.chunks === 0) range.firstSeq = chunk.firstSeq;
      range.lastSeq = chunk.lastSeq;
      range.chunks += 1;
      range.textBytes += Buffer.byteLength(chunk.body);
      yield chunk;
      if (range.textBytes >= this.#o.bytes) return;
    }
  }
}
