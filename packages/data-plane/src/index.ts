export { apiPrefix, buildDataPlane, type DataPlane, version } from './app.ts';
export { configFromEnv, type DataPlaneConfig } from './config.ts';
