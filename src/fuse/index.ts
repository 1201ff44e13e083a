export { FuseServer, unmountPath, DEFAULT_TIMEOUTS, type FuseMountOptions } from './server.js';
export type { CacheTimeouts } from './state.js';
