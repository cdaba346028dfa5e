export {
  type DatabaseTarget,
  databaseTargets,
  emptyPgliteDir,
  flowTarget,
  itOnce,
  pgliteTarget,
  postgresTarget,
  type TestDatabase,
} from './databases.ts';
export {
  assertProblem,
  fillPath,
  type JsonSchema,
  mistyped,
  type Operation,
  operationsOf,
  type Parameter,
  type ProblemAnswer,
  sample,
  servedOperationsAt,
  unboundedInputs,
  unboundedNumbers,
} from './openapi.ts';
export { freePort, freePorts, type Service, type StartOptions, startService } from './processes.ts';
export { assertRouteTableServed } from './route-table.ts';
