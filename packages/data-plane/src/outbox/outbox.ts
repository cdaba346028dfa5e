import type { InternalRoute } from '@sovereign/contract';
import type { Database, Queryable } from '@sovereign/server-kit/sql';
import type { FastifyBaseLogger } from 'fastify';
import {
  type ControlPlaneClient,
  ControlPlaneUnavailableError,
  CredentialsRevokedError,
  ProtocolRefusedError,
} from '../agent/control-plane-client.ts';
import { Events } from '../events.ts';
import type { Row } from '../storage/tables.ts';

/** A message kind and the protocol route it is delivered to. */
export interface OutboxKind {
  kind: string;
  route: InternalRoute;
}

/** What the outbox tells whoever listens (the executor). */
export interface OutboxEvents {
  /**
   * The control plane answered a message of this kind (to run events: which it recorded,
   * which runs are fenced). Heard before the message is marked delivered: a listener
   * that throws has it delivered again.
   */
  answered: { kind: string; answer: unknown };
}

/**
 * Adds a message in the caller's transaction: it exists exactly when the change it
 * reports was committed. The idempotency key makes a repeated add a no-op.
 */
export async function enqueue(
  tx: Queryable,
  kind: OutboxKind,
  idempotencyKey: string,
  payload: unknown,
  groupKey: string = idempotencyKey,
) {
  await tx.query(
    `INSERT INTO outbox (kind, idempotency_key, group_key, payload) VALUES ($1, $2, $3, $4)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [kind.kind, idempotencyKey, groupKey, JSON.stringify(payload)],
  );
}

type OutboxRow = Row<'outbox', 'outbox_id' | 'kind' | 'payload' | 'attempts'>;

const maxDelayMs = 60_000;

/**
 * Delivers outbox messages in order of creation, with retries and backoff. Several
 * instances may share the outbox: a message is taken with SKIP LOCKED, so only one
 * delivers it at a time, and the control plane's idempotency makes a redelivery
 * after a crash harmless.
 */
export class OutboxDeliverer {
  readonly #db: Database;
  readonly #client: ControlPlaneClient;
  readonly #kinds: Map<string, OutboxKind>;
  readonly #log: FastifyBaseLogger;
  readonly #events = new Events<OutboxEvents>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(db: Database, client: ControlPlaneClient, kinds: OutboxKind[], log: FastifyBaseLogger) {
    this.#db = db;
    this.#client = client;
    this.#kinds = new Map(kinds.map((k) => [k.kind, k]));
    this.#log = log;
  }

  on<Name extends keyof OutboxEvents>(name: Name, listener: (event: OutboxEvents[Name]) => void): void {
    this.#events.on(name, listener);
  }

  start(pollMs = 1_000): void {
    const tick = () => {
      this.wake();
      this.#timer = setTimeout(tick, pollMs);
      this.#timer.unref();
    };
    tick();
  }

  /** Delivers now (after a commit that enqueued something), without waiting for the poll. */
  wake(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#running;
  }

  /** Undelivered messages: how far behind the control plane is. */
  async pending(): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE delivered_at IS NULL',
    );
    return row?.n ?? 0;
  }

  /**
   * Takes one due message by moving its next attempt past the delivery timeout (a
   * lease, in a short transaction), delivers it with no lock held, then records the
   * outcome. An instance that dies mid-delivery leaves the message due again later.
   */
  async #take(): Promise<OutboxRow | undefined> {
    const [row] = await this.#db.query<OutboxRow>(
      `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + interval '30 seconds'
        WHERE outbox_id = (SELECT o.outbox_id FROM outbox o
                            WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
                              AND NOT EXISTS (SELECT 1 FROM outbox p
                                               WHERE p.group_key = o.group_key AND p.delivered_at IS NULL
                                                 AND p.outbox_id < o.outbox_id)
                            ORDER BY o.outbox_id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING outbox_id, kind, payload, attempts`,
    );
    return row;
  }

  async #drain(): Promise<void> {
    while (!this.#closed) {
      let row: OutboxRow | undefined;
      try {
        row = await this.#take();
      } catch (error) {
        this.#log.error({ err: error }, 'outbox unavailable');
        return;
      }
      if (row === undefined) return;
      const kind = this.#kinds.get(row.kind);
      try {
        if (kind === undefined) throw new ProtocolRefusedError(0, 'unknown_outbox_kind', row.kind);
        const answer = await this.#client.deliver(kind.route, row.payload);
        this.#events.emit('answered', { kind: kind.kind, answer });
        await this.#db.query('UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE outbox_id = $1', [
          row.outbox_id,
        ]);
      } catch (error) {
        const code =
          error instanceof ProtocolRefusedError || error instanceof CredentialsRevokedError
            ? error.code
            : error instanceof ControlPlaneUnavailableError
              ? 'unavailable'
              : 'error';
        const delay = Math.min(maxDelayMs, 500 * 2 ** Math.min(row.attempts - 1, 7));
        await this.#db
          .query(
            `UPDATE outbox SET last_error = $2, next_attempt_at = now() + ($3::int * interval '1 millisecond')
              WHERE outbox_id = $1`,
            [row.outbox_id, code, delay],
          )
          .catch(() => {});
        if (row.attempts === 1 || error instanceof ProtocolRefusedError) {
          this.#log.warn({ outboxId: row.outbox_id, kind: row.kind, code }, 'outbox delivery failed; will retry');
        }
        // Stop here and let the backoff run; this message's group waits behind it.
        return;
      }
    }
  }
}
