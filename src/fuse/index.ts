export { FuseServer, unmountPath, DEFAULT_TIMEOUTS, type FuseMountOptions } from './server.js';
export { checkFuse, FuseUnavailableError } from './binding.js';
export type { CacheTimeouts } from './state.js';
