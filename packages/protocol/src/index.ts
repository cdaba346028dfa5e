export * from './errors.ts';
export * from './health.ts';
export * from './interactive.ts';
export * from './internal-api.ts';
export * from './run-states.ts';
export * from './schema.ts';
export * from './scopes.ts';
export * from './tokens.ts';
