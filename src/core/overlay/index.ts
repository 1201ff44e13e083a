export { OverlayFs, type OverlayOptions } from './overlay.js';
export type { OverlayChanges } from './changes-view.js';
export { DELTA_INO_BASE } from './inodes.js';
export { BaseReader } from './base.js';
export type { Node as OverlayNode } from './inodes.js';
export { join as joinPath, parentOf as parentPath, baseName } from './base.js';
export { nsOf, type HostStat } from './host-stat.js';
export { baseLinks } from './base-links.js';
