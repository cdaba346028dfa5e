export {
  type DatabaseTarget,
  databaseTargets,
  pgliteTarget,
  postgresTarget,
  type TestDatabase,
} from './databases.ts';
export { freePort, type Service, type StartOptions, startService } from './processes.ts';
