import { tooLongForOneCall } from '../host-path.js';
import { S_IFDIR, S_IFMT, S_IFREG, type HostFiles } from '../types.js';

import { parentOf } from './base.js';
import { exposedBaseIno, hostInoOf, isCopyNumber, type Node } from './inodes.js';
import type { OverlayParts } from './parts.js';

/**
 * The overlay's answer to FileSystem.hostFiles: a node with nothing in the delta is its base
 * file, so its attributes are the lstat of that host path under the node's inode number
 * (MergedLookup.attrOf) and its content that file's (OverlayFs.read). The node table says when
 * that stops holding (NodeTable.changed: copy-up, a move, removal, a directory moved above).
 * Such a directory lists as its host directory while it has no whiteout (none hides a base name
 * in it: onUnlistable names each directory that gets one) and hides nothing in it; `record` gives
 * a node to an entry listed that way.
 */
export function overlayHostFiles(
  o: OverlayParts,
  record: (dir: number, name: string, ino: number, mode: number) => void,
  /**
   * the directory at a merged path, as a lookup from the root finds it; else the base path it
   * would show there (no directory there now), or null (nor any base path)
   */
  dirAt: (path: string) => Node | string | null,
): HostFiles {
  const hostDir = (base: string) => o.base.hostPath(base).replace(/\/+$/, '');
  // some whiteout may sit in a directory not named through onUnlistable (one of an earlier
  // mount, another process's, or one added unannounced): no host directory lists as the host's
  let unnamed = o.whiteouts.any();
  const unlistable: ((ino: number, hostDir: string) => void)[] = [];
  /** Names every directory holding a whiteout now to onUnlistable's listeners; false if some cannot be found. */
  const nameAll = (): boolean => {
    const dirs = o.whiteouts.dirs();
    if (!dirs) return false;
    const found: (Node | string)[] = [];
    for (const path of dirs) {
      let dir: Node | string | null;
      try {
        dir = dirAt(path);
      } catch {
        return false;
      }
      if (dir !== null) found.push(dir);
    }
    for (const dir of found) {
      if (typeof dir !== 'string') o.nodes.hiding(dir);
      // not a directory now (moved aside on the host, a symlink or file in its place): its host
      // path, in case the host puts one back (hostile pass: the addon listed it, removed name and all)
      else for (const l of unlistable) l(0, hostDir(dir));
    }
    return true;
  };
  return {
    hostFile(ino) {
      const node = o.nodes.get(ino);
      // a node that lost its name is checked against the host file on each use (JavaScript)
      if (!node || node === o.root || node.delta !== undefined || node.nameTaken) return undefined;
      const base = o.paths.basePathOf(node);
      if (base === null) return undefined;
      const path = o.base.hostPath(base);
      // longer paths are resolved in steps (BaseReader.withHost): left to the overlay
      return tooLongForOneCall(path) ? undefined : { path, type: node.type, parent: node.parent?.ino ?? 0 };
    },
    settledListing(ino) {
      if (!o.base.ctimeKept) return false;
      const node = o.nodes.get(ino);
      if (!node || node === o.root || node.delta !== undefined || (node.type & S_IFMT) !== S_IFDIR) return false;
      const base = o.paths.basePathOf(node);
      return base !== null && o.base.lstat(base)?.dev === o.base.dev;
    },
    deltaFile(ino) {
      const node = o.nodes.get(ino);
      // a directory's link count is the merged one (MergedLookup.deltaAttr): JavaScript's
      return node && node !== o.root && node.delta !== undefined && (node.type & S_IFMT) === S_IFREG ? node.delta : undefined;
    },
    deltaDir(ino) {
      const node = o.nodes.get(ino);
      return node && node.delta !== undefined && (node.type & S_IFMT) === S_IFDIR ? node.delta : undefined;
    },
    copyNumber(ino) {
      const node = o.nodes.get(ino);
      if (node !== undefined && node.delta !== undefined && isCopyNumber(ino)) return true;
      // a host file of this number was numbered anew (BaseInos.renumber): which number an entry
      // of it shows is JavaScript's to say, for as long as the overlay lives
      return isCopyNumber(ino) && o.baseInos.isRenumbered(hostInoOf(ino));
    },
    copyNumbers() {
      // the copies of this session's nodes, and those recorded (fs_origin) whose number no node
      // has yet: the first of the copy and a host file of that number to be looked up takes it
      const out = new Set(o.nodes.copyNumbers());
      for (const ino of o.baseInos.renumberedNumbers()) out.add(ino);
      for (const b of o.origins.baseNumbers(o.delta.rootIno)) {
        const ino = exposedBaseIno(b);
        if (isCopyNumber(ino) && !o.nodes.get(ino)) out.add(ino);
      }
      return out;
    },
    delta: o.delta.sharedReads?.(),
    listing(ino) {
      const dir = o.nodes.get(ino);
      if (!dir) return undefined;
      const base = o.paths.basePathOf(dir);
      if (base === null) return undefined;
      // a base entry listed here was placed here (MergedLookup.baseNode): parent and name
      const has = (entry: number) => {
        const n = o.nodes.get(entry);
        return n !== undefined && n !== o.root && n.delta === undefined && n.parent === dir;
      };
      return { dir: hostDir(base), has };
    },
    baseDir(ino) {
      const dir = o.nodes.get(ino);
      if (!dir || (dir.type & S_IFMT) !== S_IFDIR) return undefined;
      const base = o.paths.basePathOf(dir);
      if (base === null) return '';
      const path = hostDir(base);
      return tooLongForOneCall(`${path}/${'x'.repeat(255)}`) ? undefined : path;
    },
    onChange(listener) {
      o.nodes.onChange(listener);
    },
    onCopyNumber(listener) {
      o.nodes.onCopy(listener);
      o.baseInos.onRenumber(listener);
    },
    listable() {
      return !unnamed;
    },
    onListable(listener) {
      o.whiteouts.onChange((change) => {
        const was = unnamed;
        // a whiteout added with its directory named first (onUnlistable) hides nothing the
        // addon lists: `rm` of one base file sent every listing to JavaScript (find 2x as long)
        if (change === 'unknown' || (change === 'fewer' && unnamed)) unnamed = o.whiteouts.any();
        // whiteouts from elsewhere (another process's, found by the change watcher while it
        // holds the addon's listings): their directories are looked for as at the start
        if (unnamed && change === 'unknown') unnamed = !nameAll();
        if (unnamed !== was) listener(!unnamed);
      });
    },
    onUnlistable(listener) {
      unlistable.push(listener);
      o.nodes.onHiding((dir) => {
        const base = o.paths.basePathOf(dir);
        listener(dir.ino, base === null ? '' : hostDir(base));
      });
    },
    nameUnlistable() {
      if (unnamed) unnamed = !nameAll();
      return !unnamed;
    },
    hiddenDirs() {
      return o.paths.hiddenPaths().map((p) => hostDir(parentOf(p)));
    },
    listed: record,
    root: o.base.root(),
  };
}
