export { FuseServer, DEFAULT_TIMEOUTS, type FuseMountOptions } from './server.js';
export { unmountPath } from './unmount.js';
export { checkFuse, FuseUnavailableError } from './binding.js';
export type { CacheTimeouts } from './state.js';
