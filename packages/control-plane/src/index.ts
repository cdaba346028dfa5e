export { buildControlPlane, type ControlPlane, version } from './app.ts';
export { type ControlPlaneConfig, configFromEnv, defaultConfig } from './config.ts';
export { publicApiPrefix } from './public-api.ts';
