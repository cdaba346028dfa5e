import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Database, Queryable } from './database.ts';

// Counts and bigint ids come back as numbers: every value we store in int8 fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** A pool of connections to a PostgreSQL server. */
export async function openPostgres(url: string, maxConnections = 10): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: maxConnections });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Fail at start, loudly, when the server cannot be reached.
  const probe = await pool.connect();
  probe.release();

  const queryable = (q: pg.Pool | pg.PoolClient): Queryable => ({
    async query<Row>(text: string, params?: readonly unknown[]) {
      // Without parameters a text goes by the simple protocol, which may hold several statements.
      const name = params === undefined ? undefined : statementName(text);
      const values = params as unknown[] | undefined;
      const result = await (name === undefined ? q.query(text, values) : q.query({ name, text, values }));
      return result.rows as Row[];
    },
  });

  let listener: pg.Client | undefined;
  const handlers = new Map<string, Set<(payload: string) => void>>();

  return {
    driver: 'postgres',
    query: queryable(pool).query,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async exec(text) {
      await pool.query(text);
    },
    async listen(channel, onPayload) {
      if (listener === undefined) {
        listener = new pg.Client({ connectionString: url });
        listener.on('error', () => {});
        await listener.connect();
        listener.on('notification', (message) => {
          for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
        });
      }
      let set = handlers.get(channel);
      if (set === undefined) {
        set = new Set();
        handlers.set(channel, set);
        await listener.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
      set.add(onPayload);
      return async () => {
        set.delete(onPayload);
      };
    },
    async notify(channel, payload) {
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async close() {
      await listener?.end().catch(() => {});
      await pool.end();
    },
  };
}

/**
 * How many statement texts are prepared by name on each connection, at most. The stores'
 * statements are a fixed set, well under this; a text past it (one built at run time)
 * is parsed and planned each time, as every statement was before, so a connection's
 * prepared statements never grow without bound.
 */
const preparedMax = 500;
const names = new Map<string, string>();

/**
 * The name a statement is prepared under on each connection: the server parses it once
 * per connection, and after a few runs plans it once too (a generic plan), where an
 * unnamed statement is parsed, analysed and planned on every call. A run's path is some
 * twenty statements, so this is much of the database's CPU per run.
 */
function statementName(text: string): string | undefined {
  const known = names.get(text);
  if (known !== undefined || names.size >= preparedMax) return known;
  const name = `sov_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
  names.set(text, name);
  return name;
}
