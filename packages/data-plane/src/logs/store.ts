import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Database } from '@sovereign/server-kit/sql';
import type { ArtifactStore } from '../storage/artifacts.ts';
import type { Row, With } from '../storage/tables.ts';
import { archivePrefixOf, type ChunkRecord, readArchive } from './archive-format.ts';
import type { LogLine } from './lines.ts';

export interface StoredLine {
  seq: number;
  stream: 'stdout' | 'stderr';
  at: string;
  line: string;
}

/** Consecutive lines with one stream and one time: a row of run_log_chunks. */
interface Chunk {
  firstSeq: number;
  stream: LogLine['stream'];
  at: Date;
  lines: string[];
}

/**
 * Groups lines into chunks: a new chunk starts where the stream or the time changes, and
 * a line that holds a newline (no line from a pipe does) is a chunk of its own, so
 * joining and splitting on newlines gives every line back.
 */
function chunksOf(firstSeq: number, lines: readonly LogLine[]): Chunk[] {
  const chunks: Chunk[] = [];
  let current: Chunk | undefined;
  lines.forEach((line, i) => {
    const alone = line.text.includes('\n');
    if (
      current === undefined ||
      alone ||
      current.stream !== line.stream ||
      current.at.getTime() !== line.at.getTime() ||
      (current.lines.length === 1 && (current.lines[0] as string).includes('\n'))
    ) {
      current = { firstSeq: firstSeq + i, stream: line.stream, at: line.at, lines: [] };
      chunks.push(current);
    }
    current.lines.push(line.text);
  });
  return chunks;
}

/** A claim on a run's lines to archive: its id, and the last line there was when it was taken. */
export interface ArchiveClaim {
  runId: string;
  claimId: string;
  /** Lines 1 .. archivedSeq are archived already. */
  archivedSeq: number;
  /** Archive up to this line: later ones are still being written. */
  throughSeq: number;
}

/** What one archived object holds. */
export interface ArchivedRange {
  firstSeq: number;
  lastSeq: number;
  chunks: number;
  textBytes: number;
}

/** A piece of a run's log as the database lists it: chunks in its table, or an archived object. */
type Piece = { archived: false; chunk: ChunkRecord } | { archived: true; key: string; lastSeq: number };

/**
 * Log lines of runs, stored in this data plane's database in order (R5), with a
 * wake-up for followers in this process; followers on another instance notice new
 * lines by reading again after a short wait. Lines are kept in chunks (consecutive
 * lines of one stream read at one time), so a loud job writes and is read back in
 * a few rows per batch instead of a row per line. Lines past an age or a size are
 * archived to the artifact store (logs/archive.ts): a reader is given archived and
 * live lines stitched in order, never a gap or a line twice.
 */
export class LogStore {
  readonly #db: Database;
  readonly #artifacts: ArtifactStore;
  readonly #events = new EventEmitter();

  constructor(db: Database, artifacts: ArtifactStore) {
    this.#db = db;
    this.#artifacts = artifacts;
    this.#events.setMaxListeners(0);
  }

  /** Appends masked lines from `firstSeq` on, in one statement. */
  async append(runId: string, firstSeq: number, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    const params: unknown[] = [runId];
    let bytes = 0;
    const rows = chunksOf(firstSeq, lines).map((chunk) => {
      const body = chunk.lines.join('\n');
      bytes += Buffer.byteLength(body);
      params.push(chunk.firstSeq, chunk.firstSeq + chunk.lines.length - 1, chunk.stream, chunk.at, body);
      const base = params.length - 5;
      return `($1, $${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5})`;
    });
    await this.#db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO run_log_chunks (run_id, first_seq, last_seq, stream, at, body) VALUES ${rows.join(', ')}`,
        params,
      );
      // The text counted, so a long run's lines are archived once they pass a size.
      await tx.query('UPDATE runs SET log_lines = $2, log_live_bytes = log_live_bytes + $3 WHERE run_id = $1', [
        runId,
        firstSeq + lines.length - 1,
        bytes,
      ]);
    });
    this.#events.emit(runId);
  }

  /** Up to `limit` lines after line `afterSeq`, in order. */
  async read(runId: string, afterSeq: number, limit: number): Promise<StoredLine[]> {
    // The first page holds `limit` lines, or every line there is: leaving stops the reading.
    for await (const page of this.pages(runId, afterSeq, limit)) return page;
    return [];
  }

  /**
   * Every line after `afterSeq` there is now, in order, in pages of `pageLines` (the
   * last one shorter): archived objects are read as they are paged through, each once,
   * so a long log is never held whole. Leaving early closes what is being read.
   */
  async *pages(runId: string, afterSeq: number, pageLines: number): AsyncGenerator<StoredLine[]> {
    let after = afterSeq;
    let page: StoredLine[] = [];
    for (;;) {
      const pieces = await this.#pieces(runId, after, pageLines - page.length);
      if (pieces.length === 0) break;
      for (const piece of pieces) {
        const chunks = piece.archived
          ? readArchive(piece.key, await this.#artifacts.openRead(piece.key))
          : [piece.chunk];
        for await (const chunk of chunks) {
          if (chunk.lastSeq <= after) continue;
          const texts = chunk.lastSeq === chunk.firstSeq ? [chunk.body] : chunk.body.split('\n');
          for (let seq = Math.max(after + 1, chunk.firstSeq); seq <= chunk.lastSeq; seq++) {
            page.push({ seq, stream: chunk.stream, at: chunk.at, line: texts[seq - chunk.firstSeq] as string });
            after = seq;
            if (page.length === pageLines) {
              yield page;
              page = [];
            }
          }
        }
      }
    }
    if (page.length > 0) yield page;
  }

  /**
   * The pieces that hold lines afterSeq + 1 .. afterSeq + count, in order: from the
   * first that ends after afterSeq to the first that reaches the last line wanted, in
   * one statement, so an archiving that commits meanwhile is seen whole or not at all.
   */
  async #pieces(runId: string, afterSeq: number, count: number): Promise<Piece[]> {
    const rows = await this.#db.query<{
      archived: boolean;
      first_seq: number;
      last_seq: number;
      stream: 'stdout' | 'stderr' | null;
      at: Date | null;
      body: string;
    }>(
      `WITH bound AS (
         SELECT coalesce(least(
           (SELECT min(last_seq) FROM run_log_archives WHERE run_id = $1 AND last_seq >= $2::bigint + $3),
           (SELECT min(last_seq) FROM run_log_chunks WHERE run_id = $1 AND last_seq >= $2::bigint + $3)
         ), 9223372036854775807) AS upto
       )
       SELECT true AS archived, first_seq, last_seq, NULL AS stream, NULL::timestamptz AS at, artifact_key AS body
         FROM run_log_archives, bound WHERE run_id = $1 AND last_seq > $2 AND last_seq <= bound.upto
       UNION ALL
       SELECT false, first_seq, last_seq, stream, at, body
         FROM run_log_chunks, bound WHERE run_id = $1 AND last_seq > $2 AND last_seq <= bound.upto
       ORDER BY last_seq`,
      [runId, afterSeq, count],
    );
    // The table's CHECK keeps a chunk's stream to stdout and stderr.
    return rows.map((row) =>
      row.archived
        ? { archived: true, key: row.body, lastSeq: row.last_seq }
        : {
            archived: false,
            chunk: {
              firstSeq: row.first_seq,
              lastSeq: row.last_seq,
              stream: row.stream as 'stdout' | 'stderr',
              at: (row.at as Date).toISOString(),
              body: row.body,
            },
          },
    );
  }

  /**
   * Runs whose lines are due for the store: ended `afterSeconds` ago or more, or with
   * `liveBytes` of text or more still here. Each is claimed for `leaseSeconds` (a claim
   * is renewed at every range archived), so two instances never archive the same range:
   * rows another instance is claiming are skipped, not waited for.
   */
  async claimArchiveWork(options: {
    afterSeconds: number;
    liveBytes: number;
    leaseSeconds: number;
    limit: number;
  }): Promise<ArchiveClaim[]> {
    const claimId = randomUUID();
    const rows = await this.#db.query<Row<'runs', 'run_id' | 'log_archived_seq' | 'log_lines'>>(
      `UPDATE runs SET log_archiver = $4, log_archive_until = now() + $3::int * interval '1 second'
        WHERE run_id IN (
          SELECT run_id FROM runs
           WHERE log_lines > log_archived_seq
             AND (log_archive_until IS NULL OR log_archive_until < now())
             AND (finished_at <= now() - $1::int * interval '1 second' OR log_live_bytes >= $2)
           ORDER BY finished_at NULLS FIRST
           LIMIT $5
           FOR UPDATE SKIP LOCKED)
        RETURNING run_id, log_archived_seq, log_lines`,
      [options.afterSeconds, options.liveBytes, options.leaseSeconds, claimId, options.limit],
    );
    return rows.map((row) => ({
      runId: row.run_id,
      claimId,
      archivedSeq: row.log_archived_seq,
      throughSeq: row.log_lines,
    }));
  }

  /**
   * A run's chunks after `afterSeq` up to `throughSeq`, in order, a page of rows at a
   * time: about 4 MiB of text a page, as many rows as the last page's made that. A chunk
   * is a line, or up to a batch of the pump's (about 1 MiB).
   */
  async *chunksToArchive(runId: string, afterSeq: number, throughSeq: number): AsyncGenerator<ChunkRecord> {
    const pageBytes = 4 * 1024 * 1024;
    let pageRows = 16;
    let after = afterSeq;
    for (;;) {
      const rows = await this.#db.query<
        With<
          Row<'run_log_chunks', 'first_seq' | 'last_seq' | 'stream' | 'at' | 'body'>,
          { stream: 'stdout' | 'stderr' }
        >
      >(
        `SELECT first_seq, last_seq, stream, at, body FROM run_log_chunks
          WHERE run_id = $1 AND last_seq > $2 AND last_seq <= $3 ORDER BY last_seq LIMIT $4`,
        [runId, after, throughSeq, pageRows],
      );
      let bytes = 0;
      for (const row of rows) {
        bytes += row.body.length;
        yield {
          firstSeq: row.first_seq,
          lastSeq: row.last_seq,
          stream: row.stream,
          at: row.at.toISOString(),
          body: row.body,
        };
        after = row.last_seq;
      }
      if (rows.length < pageRows) return;
      pageRows = Math.max(4, Math.min(4096, Math.floor(pageBytes / Math.max(1, bytes / rows.length))));
    }
  }

  /**
   * Records an archived range, once its object is in the store: in one transaction its
   * row goes in and its chunks go, so a reader sees them here or there, never both nor
   * neither. False (and nothing changed) when the chunks are not all here any more or the
   * claim was lost: another instance archived them.
   */
  async recordArchive(
    claim: ArchiveClaim,
    range: ArchivedRange,
    key: string,
    sizeBytes: number,
    leaseSeconds: number,
  ): Promise<boolean> {
    try {
      await this.#db.transaction(async (tx) => {
        const [gone] = await tx.query<{ chunks: number; bytes: number }>(
          `WITH gone AS (
             DELETE FROM run_log_chunks WHERE run_id = $1 AND first_seq >= $2 AND last_seq <= $3
             RETURNING octet_length(body) AS bytes)
           SELECT count(*) AS chunks, coalesce(sum(bytes), 0) AS bytes FROM gone`,
          [claim.runId, range.firstSeq, range.lastSeq],
        );
        if (Number(gone?.chunks) !== range.chunks) throw new ArchiveLostError();
        await tx.query(
          `INSERT INTO run_log_archives (run_id, first_seq, last_seq, artifact_key, size_bytes, text_bytes)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [claim.runId, range.firstSeq, range.lastSeq, key, sizeBytes, range.textBytes],
        );
        const renewed = await tx.query(
          `UPDATE runs SET log_archived_seq = $3, log_live_bytes = greatest(0, log_live_bytes - $4),
                  log_archive_until = now() + $5::int * interval '1 second'
            WHERE run_id = $1 AND log_archiver = $2 RETURNING run_id`,
          [claim.runId, claim.claimId, range.lastSeq, Number(gone?.bytes), leaseSeconds],
        );
        if (renewed.length === 0) throw new ArchiveLostError();
      });
      return true;
    } catch (error) {
      if (error instanceof ArchiveLostError) return false;
      throw error;
    }
  }

  /** Lets the run go: the next time its lines are due, any instance may claim it. */
  async releaseArchiveClaim(claim: ArchiveClaim): Promise<void> {
    await this.#db.query(
      'UPDATE runs SET log_archiver = NULL, log_archive_until = NULL WHERE run_id = $1 AND log_archiver = $2',
      [claim.runId, claim.claimId],
    );
  }

  /**
   * Removes a run's lines, here and in the store: the rows first, in one transaction (a
   * reader never meets a row whose object is gone), then every object under the run's
   * prefix, those of a range whose recording failed included.
   */
  async deleteRun(runId: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query('DELETE FROM run_log_chunks WHERE run_id = $1', [runId]);
      await tx.query('DELETE FROM run_log_archives WHERE run_id = $1', [runId]);
      await tx.query('UPDATE runs SET log_lines = 0, log_archived_seq = 0, log_live_bytes = 0 WHERE run_id = $1', [
        runId,
      ]);
    });
    for (const key of await this.#artifacts.list(archivePrefixOf(runId))) await this.#artifacts.delete(key);
    this.#events.emit(runId);
  }

  /** Tells followers in this process that a run ended. */
  ended(runId: string): void {
    this.#events.emit(runId);
  }

  /** Resolves on new lines (or the end) of a run in this process, or after `ms`. */
  wait(runId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#events.off(runId, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#events.once(runId, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/** Chunks gone from under an archiving, or its claim lost: another instance archived them. */
class ArchiveLostError extends Error {
  constructor() {
    super('the range was archived by another instance');
    this.name = 'ArchiveLostError';
  }
}
