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

/** A message kind, whose messages carry a `Payload`, and the protocol route it is delivered to. */
export interface OutboxKind<Payload = unknown> {
  kind: string;
  route: InternalRoute;
  /**
   * Messages of this kind that may travel together in one call: those with the same key
   * (here: the instance that reported them) are merged in order into one payload. A kind
   * without it is delivered a message per call. (Methods: a kind of any payload is kept
   * among the deliverer's kinds, each message read back being one its kind enqueued.)
   */
  merge?: { key(payload: Payload): string; payloads(payloads: Payload[]): Payload };
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
export async function enqueue<Payload>(
  tx: Queryable,
  kind: OutboxKind<Payload>,
  idempotencyKey: string,
  payload: Payload,
  groupKey: string = idempotencyKey,
) {
  await tx.query(
    `INSERT INTO outbox (kind, idempotency_key, group_key, payload) VALUES ($1, $2, $3, $4)
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [kind.kind, idempotencyKey, groupKey, JSON.stringify(payload)],
  );
}

type OutboxRow = Row<'outbox', 'outbox_id' | 'kind' | 'payload' | 'attempts' | 'group_key'>;

const maxDelayMs = 60_000;
/** The most messages one drain step takes: the run events of a busy instance's last moments. */
const batchSize = 100;

/** Messages delivered in one call: one, or several of a kind that merges. */
interface Delivery {
  kind: OutboxKind | undefined;
  rows: OutboxRow[];
}

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

  /**
   * Stops polling, then delivers what is still due, for at most `flushMs`: a planned stop
   * tells the control plane how the runs it stopped ended (cancelled, dataplane_shutdown)
   * before it exits, so none lapses into lost while the data plane restarts. What is
   * left then (the control plane is away) waits in the outbox for the next start.
   */
  async stop(flushMs = 5_000): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const { promise: timedOut, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, flushMs);
    const flushed = (async () => {
      this.wake();
      // A drain's end starts another when more was enqueued meanwhile: wait for the last one.
      while (this.#running !== undefined) await this.#running;
    })();
    await Promise.race([flushed, timedOut]);
    clearTimeout(timer);
    this.#closed = true;
  }

  /** Undelivered messages: how far behind the control plane is. */
  async pending(): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE delivered_at IS NULL',
    );
    return row?.n ?? 0;
  }

  /**
   * Takes the due messages (up to a batch) by moving their next attempt past the delivery
   * timeout (a lease, in one statement), delivers them with no lock held, then records
   * the outcome. An instance that dies mid-delivery leaves them due again later. A
   * message is taken only with every earlier undelivered one of its group (one run's
   * events): taken in the same batch, or none, so a group is delivered in order.
   */
  async #take(): Promise<OutboxRow[]> {
    return this.#db.query<OutboxRow>(
      `WITH due AS (
         SELECT o.outbox_id, o.group_key FROM outbox o
          WHERE o.delivered_at IS NULL AND o.next_attempt_at <= now()
          ORDER BY o.outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED
       )
       UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + interval '30 seconds'
        WHERE outbox_id IN (SELECT d.outbox_id FROM due d
                             WHERE NOT EXISTS (SELECT 1 FROM outbox p
                                                WHERE p.group_key = d.group_key AND p.delivered_at IS NULL
                                                  AND p.outbox_id < d.outbox_id
                                                  AND p.outbox_id NOT IN (SELECT outbox_id FROM due)))
        RETURNING outbox_id, kind, payload, attempts, group_key`,
      [batchSize],
    );
  }

  /**
   * The calls a batch makes, in order: messages of a merging kind with the same key
   * travel together. A group whose messages would land in two calls ends the batch
   * there (what follows is given back), so no group is ever delivered out of order.
   */
  #deliveries(rows: OutboxRow[]): { deliveries: Delivery[]; rest: OutboxRow[] } {
    const sorted = [...rows].sort((a, b) => Number(a.outbox_id) - Number(b.outbox_id));
    const deliveries: Delivery[] = [];
    const byKey = new Map<string, Delivery>();
    const groupIn = new Map<string, Delivery>();
    for (const [i, row] of sorted.entries()) {
      const kind = this.#kinds.get(row.kind);
      const key = kind?.merge === undefined ? undefined : `${kind.kind}\n${kind.merge.key(row.payload)}`;
      let delivery = key === undefined ? undefined : byKey.get(key);
      const earlier = groupIn.get(row.group_key);
      if (earlier !== undefined && earlier !== delivery) return { deliveries, rest: sorted.slice(i) };
      if (delivery === undefined) {
        delivery = { kind, rows: [] };
        deliveries.push(delivery);
        if (key !== undefined) byKey.set(key, delivery);
      }
      delivery.rows.push(row);
      groupIn.set(row.group_key, delivery);
    }
    return { deliveries, rest: [] };
  }

  async #drain(): Promise<void> {
    while (!this.#closed) {
      let rows: OutboxRow[];
      try {
        rows = await this.#take();
      } catch (error) {
        this.#log.error({ err: error }, 'outbox unavailable');
        return;
      }
      if (rows.length === 0) return;
      const { deliveries, rest } = this.#deliveries(rows);
      for (const [i, delivery] of deliveries.entries()) {
        if (!(await this.#deliver(delivery))) {
          // Let the backoff run; this delivery's groups wait behind it, the others go again at once.
          await this.#giveBack([...deliveries.slice(i + 1).flatMap((d) => d.rows), ...rest]);
          return;
        }
      }
      await this.#giveBack(rest);
    }
  }

  /** Messages taken but not tried: due again now, their attempt not counted. */
  async #giveBack(rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#db
      .query('UPDATE outbox SET attempts = attempts - 1, next_attempt_at = now() WHERE outbox_id = ANY($1::bigint[])', [
        rows.map((r) => r.outbox_id),
      ])
      .catch(() => {});
  }

  /** Delivers one call's messages; false when it failed (its messages wait their backoff). */
  async #deliver(delivery: Delivery): Promise<boolean> {
    const { kind, rows } = delivery;
    const [first] = rows;
    if (first === undefined) return true;
    try {
      if (kind === undefined) throw new ProtocolRefusedError(0, 'unknown_outbox_kind', first.kind);
      const payload = rows.length === 1 ? first.payload : kind.merge?.payloads(rows.map((r) => r.payload));
      const answer = await this.#client.deliver(kind.route, payload);
      this.#events.emit('answered', { kind: kind.kind, answer });
      await this.#db.query(
        'UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE outbox_id = ANY($1::bigint[])',
        [rows.map((r) => r.outbox_id)],
      );
      return true;
    } catch (error) {
      // A merged call the control plane refused is tried again a message at a time at
      // once: one message it refuses must not hold back the others' groups.
      if (rows.length > 1 && error instanceof ProtocolRefusedError) {
        for (const [i, row] of rows.entries()) {
          if (!(await this.#deliver({ kind, rows: [row] }))) {
            await this.#giveBack(rows.slice(i + 1));
            return false;
          }
        }
        return true;
      }
      const code =
        error instanceof ProtocolRefusedError || error instanceof CredentialsRevokedError
          ? error.code
          : error instanceof ControlPlaneUnavailableError
            ? 'unavailable'
            : 'error';
      const attempts = Math.max(...rows.map((r) => r.attempts));
      const delay = Math.min(maxDelayMs, 500 * 2 ** Math.min(attempts - 1, 7));
      await this.#db
        .query(
          `UPDATE outbox SET last_error = $2, next_attempt_at = now() + ($3::int * interval '1 millisecond')
            WHERE outbox_id = ANY($1::bigint[])`,
          [rows.map((r) => r.outbox_id), code, delay],
        )
        .catch(() => {});
      if (attempts === 1 || error instanceof ProtocolRefusedError) {
        this.#log.warn(
          { outboxIds: rows.map((r) => r.outbox_id), kind: first.kind, code },
          'outbox delivery failed; will retry',
        );
      }
      return false;
    }
  }
}
