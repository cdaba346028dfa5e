import { EventEmitter } from 'node:events';
import type { Database } from '@sovereign/protocol/sql';
import type { LogLine } from './lines.ts';

export interface StoredLine {
  seq: number;
  stream: 'stdout' | 'stderr';
  at: string;
  line: string;
}

/**
 * Log lines of runs, stored in this data plane's database in order (R5), with a
 * wake-up for followers in this process; followers on another instance notice new
 * lines by reading again after a short wait.
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
    const rows = lines.map((line, i) => {
      params.push(firstSeq + i, line.stream, line.at, line.text);
      const base = params.length - 4;
      return `($1, $${base + 1}, $${base + 2}, $${base + 3}, $${base + 4})`;
    });
    await this.#db.transaction(async (tx) => {
      await tx.query(`INSERT INTO run_logs (run_id, seq, stream, at, line) VALUES ${rows.join(', ')}`, params);
      await tx.query('UPDATE runs SET log_lines = $2 WHERE run_id = $1', [runId, firstSeq + lines.length - 1]);
    });
    this.#events.emit(runId);
  }

  async read(runId: string, afterSeq: number, limit: number): Promise<StoredLine[]> {
    const rows = await this.#db.query<{ seq: number; stream: 'stdout' | 'stderr'; at: Date; line: string }>(
      'SELECT seq, stream, at, line FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [runId, afterSeq, limit],
    );
    return rows.map((r) => ({ seq: Number(r.seq), stream: r.stream, at: r.at.toISOString(), line: r.line }));
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
