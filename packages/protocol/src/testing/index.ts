export { type DatabaseTarget, databaseTargets, type TestDatabase } from './databases.ts';
export { freePort, type Service, type StartOptions, startService } from './processes.ts';
