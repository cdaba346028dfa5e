import { fileURLToPath } from 'node:url';
import { type Database, migrate } from '@sovereign/server-kit/sql';

const migrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
/** The advisory lock that lets instances starting together migrate one at a time. */
const migrationLock = 0x50_56_02;

/** Brings the data plane's database to the newest schema; resolves to the files applied. */
export function migrateDataPlane(db: Database): Promise<string[]> {
  return migrate(db, migrationsDir, migrationLock);
}
