export { type DatabaseTarget, databaseTargets, type TestDatabase } from './databases.ts';
