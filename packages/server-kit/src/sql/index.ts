import { type Database, type DatabaseOptions, isPostgresUrl } from './database.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

export type { Database, DatabaseOptions, Queryable } from './database.ts';
export { isPostgresUrl } from './database.ts';
export { MigrationChangedError, migrate, splitStatements } from './migrate.ts';

/** Opens PostgreSQL when `url` is a postgres URL, else PGlite at `dataDir`. */
export function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (isPostgresUrl(options.url)) return openPostgres(options.url, options.maxConnections);
  return openPglite(options.dataDir);
}
