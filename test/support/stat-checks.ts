/**
 * Python for the group-commit tests: `check(step, path, nlink, mode, moved)` stats `path` after a
 * change and prints what is wrong (nothing when all is right): mtime and ctime moved as the step
 * says (moved: 'm', 'c', both or neither) since the last check of that path, and the link count
 * and permission bits when given.
 */
export const STAT_CHECKS = String.raw`
import os, sys
last = {}
def check(step, path, nlink=None, mode=None, moved='mc'):
    # moved: which of mtime (m) and ctime (c) the step moves; the others must stay
    st = os.stat(path)
    t = st.st_mtime_ns, st.st_ctime_ns
    if path in last:
        for i, k in enumerate('mc'):
            if (t[i] > last[path][i]) != (k in moved): print(step, path, k + 'time', last[path][i], '->', t[i])
    last[path] = t
    if nlink is not None and st.st_nlink != nlink: print(step, path, 'nlink', st.st_nlink, 'want', nlink)
    if mode is not None and (st.st_mode & 0o7777) != mode: print(step, path, 'mode', oct(st.st_mode), 'want', oct(mode))
`;
