export { ControlPlaneClient, type ControlPlaneOptions, publicApiPath } from './control-plane.ts';
export {
  DataPlaneClient,
  type DataPlaneOptions,
  DataplaneOfflineError,
  ScopedTokens,
  type TokenIssuer,
} from './data-plane.ts';
export { formatDuration, runDurationMs, runDurationText } from './durations.ts';
export { ApiError, isAbort, type Problem, problemOf, UnreachableError } from './errors.ts';
export { type FollowOptions, followLogs } from './follow.ts';
export { fillPath, HttpService, type Query, type RequestOptions, type Trace } from './http.ts';
export { InsecureHttpError, inClear, isLoopbackHost } from './plain-http.ts';
export { serverSentEvents } from './sse.ts';
export { statusWord } from './words.ts';
