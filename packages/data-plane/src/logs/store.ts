import { EventEmitter } from 'node:events';
import type { Database } from '@sovereign/server-kit/sql';
import type { Row, With } from '../storage/tables.ts';
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

/**
 * Log lines of runs, stored in this data plane's database in order (R5), with a
 * wake-up for followers in this process; followers on another instance notice new
 * lines by reading again after a short wait. Lines are kept in chunks (consecutive
 * lines of one stream read at one time), so a loud job writes and is read back in
 * a few rows per batch instead of a row per line.
 */
export class LogStore {
  readonly #db: Database;
  readonly #events = new EventEmitter();

  constructor(db: Database) {
    this.#db = db;
    this.#events.setMaxListeners(0);
  }

  /** Appends masked lines from `firstSeq` on, in one statement. */
  async append(runId: string, firstSeq: number, lines: LogLine[]): Promise<void> {
    if (lines.length === 0) return;
    const params: unknown[] = [runId];
    const rows = chunksOf(firstSeq, lines).map((chunk) => {
      params.push(
        chunk.firstSeq,
        chunk.firstSeq + chunk.lines.length - 1,
        chunk.stream,
        chunk.at,
        chunk.lines.join('\n'),
      );
      const base = params.length - 5;
      return `($1, $${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5})`;
    });
    await this.#db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO run_log_chunks (run_id, first_seq, last_seq, stream, at, body) VALUES ${rows.join(', ')}`,
        params,
      );
      await tx.query('UPDATE runs SET log_lines = $2 WHERE run_id = $1', [runId, firstSeq + lines.length - 1]);
    });
    this.#events.emit(runId);
  }

  /** Up to `limit` lines after line `afterSeq`, in order. */
  async read(runId: string, afterSeq: number, limit: number): Promise<StoredLine[]> {
    // The chunks that hold lines afterSeq + 1 .. afterSeq + limit: from the first that ends
    // after afterSeq to the first that reaches the last line wanted.
    // The table's CHECK keeps a chunk's stream to these two.
    const rows = await this.#db.query<
      With<Row<'run_log_chunks', 'first_seq' | 'last_seq' | 'stream' | 'at' | 'body'>, { stream: 'stdout' | 'stderr' }>
    >(
      `SELECT first_seq, last_seq, stream, at, body FROM run_log_chunks
        WHERE run_id = $1 AND last_seq > $2
          AND last_seq <= coalesce((SELECT min(last_seq) FROM run_log_chunks
                                     WHERE run_id = $1 AND last_seq >= $2::bigint + $3), 9223372036854775807)
        ORDER BY last_seq`,
      [runId, afterSeq, limit],
    );
    const out: StoredLine[] = [];
    for (const row of rows) {
      const first = row.first_seq;
      const count = row.last_seq - first + 1;
      const texts = count === 1 ? [row.body] : row.body.split('\n');
      const at = row.at.toISOString();
      for (let i = Math.max(0, afterSeq + 1 - first); i < count && out.length < limit; i++) {
        out.push({ seq: first + i, stream: row.stream, at, line: texts[i] as string });
      }
    }
    return out;
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
