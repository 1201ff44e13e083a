/*
 * agentfs-walbatch: an SQLite loadable extension that registers a VFS of that name, which gathers
 * a connection's WAL appends into few large writes. Connections ask for it by name
 * (file:PATH?vfs=agentfs-walbatch); it is not made the default, so no other connection of the
 * process changes.
 *
 * Why: SQLite writes each WAL frame as two pwrite calls (its 24-byte header, then the page). On
 * the VMs measured a pwrite costs ~2.3 us whatever its size, so a 64 MiB write through a mount
 * (18,700 frames) spent ~85 ms in them on the thread that serves every request; 32 frames a
 * call cost 0.8 us a frame instead of 4.6.
 *
 * What stays as SQLite wrote it: the bytes and their order in the file, and when other
 * connections can see them. Appends are held only while they continue one another, and written
 * out (in order, before the call returns) when:
 *   - a commit frame's header (one with a non-zero database size) or the page after it was
 *     written, before SQLite publishes the commit in the wal-index: a failure fails that xWrite,
 *     so the commit fails as it would have unbuffered;
 *   - anything else touches the WAL file (a read, a write elsewhere, sync, truncate, size, a file
 *     control, close);
 *   - the connection gives up the WAL's write lock (after a rollback, frames a spill wrote must
 *     reach the file before another writer may append there), or calls a memory barrier of the
 *     wal-index (which SQLite does right before it publishes a commit).
 * A process killed with appends held loses only frames no commit had published: what a crash in
 * the middle of SQLite's own writes leaves, which recovery ignores (their checksums break off).
 *
 * Journals and temporary files are the base VFS's own, with no indirection; the main database
 * file goes through a wrapper that forwards every call (and writes its WAL's held appends out
 * where said above).
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define VFS_NAME "agentfs-walbatch"
/* appends held at most (30 frames of a 4 KiB page): the unix VFS writes at most 128 KiB - 1 a call
   (os_unix.c seekAndWrite masks the length with 0x1ffff) */
#define HOLD_BYTES (124 * 1024)
/* the wal-index lock a writer holds (wal.c WAL_WRITE_LOCK) */
#define WAL_WRITE_LOCK 0
#define ROUND8(n) (((n) + 7) & ~(size_t)7)

static sqlite3_vfs *base_vfs;
static sqlite3_vfs batch_vfs;

typedef struct WalFile WalFile;

/* A main database file: its WAL (opened by the same connection) is flushed at its lock changes. */
typedef struct MainFile {
  sqlite3_file file;
  sqlite3_file *real;
  const char *name; /* the pager's file name: its WAL's sqlite3_filename_database() */
  WalFile *wal;
  struct MainFile *next;
} MainFile;

struct WalFile {
  sqlite3_file file;
  sqlite3_file *real;
  MainFile *main;
  char *held;
  int used;
  sqlite3_int64 start;
  int commit_frame; /* the last write was a commit frame's header: its page goes out at once too */
};

/* The open main files, for a WAL's open to find its own (one list for the process). */
static pthread_mutex_t mains_mu = PTHREAD_MUTEX_INITIALIZER;
static MainFile *mains;

static sqlite3_file *real_of(sqlite3_file *f, size_t wrapper) { return (sqlite3_file *)((char *)f + ROUND8(wrapper)); }

/* ---- the WAL file ---------------------------------------------------------------------- */

/* Writes out what is held. On failure nothing stays held (SQLite gives the transaction up). */
static int flush(WalFile *w) {
  if (w->used == 0) return SQLITE_OK;
  int n = w->used;
  w->used = 0;
  return w->real->pMethods->xWrite(w->real, w->held, n, w->start);
}

static int walClose(sqlite3_file *f) {
  WalFile *w = (WalFile *)f;
  int rc = flush(w);
  pthread_mutex_lock(&mains_mu);
  if (w->main && w->main->wal == w) w->main->wal = NULL;
  pthread_mutex_unlock(&mains_mu);
  int rc2 = w->real->pMethods->xClose(w->real);
  free(w->held);
  w->held = NULL;
  return rc != SQLITE_OK ? rc : rc2;
}

static int walRead(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
  WalFile *w = (WalFile *)f;
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, buf, n, off);
}

/* bytes 4-7 of a frame header: the database's size in pages after a commit, 0 in other frames */
static int is_commit_header(const void *buf, int n) {
  const unsigned char *b = buf;
  return n == 24 && (b[4] | b[5] | b[6] | b[7]) != 0;
}

static int walWrite(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
  WalFile *w = (WalFile *)f;
  if (!w->held) return w->real->pMethods->xWrite(w->real, buf, n, off);
  // this write is the page of a commit frame whose header came before
  int completes_commit = w->commit_frame;
  w->commit_frame = is_commit_header(buf, n);
  int rc;
  if (w->used > 0 && off == w->start + w->used && w->used + n <= HOLD_BYTES) {
    memcpy(w->held + w->used, buf, (size_t)n);
    w->used += n;
  } else {
    if ((rc = flush(w)) != SQLITE_OK) return rc;
    if (n >= HOLD_BYTES) return w->real->pMethods->xWrite(w->real, buf, n, off);
    memcpy(w->held, buf, (size_t)n);
    w->start = off;
    w->used = n;
  }
  // A commit frame's header goes out at once, and its page after it: on the file before SQLite
  // publishes the commit, a failure failing the commit. The header at once, for SQLite also
  // rewrites headers alone (walRewriteChecksums, after a page was written twice in a
  // transaction), the commit frame's last, with no page after it.
  return w->commit_frame || completes_commit ? flush(w) : SQLITE_OK;
}

static int walTruncate(sqlite3_file *f, sqlite3_int64 size) {
  WalFile *w = (WalFile *)f;
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int walSync(sqlite3_file *f, int flags) {
  WalFile *w = (WalFile *)f;
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int walFileSize(sqlite3_file *f, sqlite3_int64 *size) {
  WalFile *w = (WalFile *)f;
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int walLock(sqlite3_file *f, int lock) {
  WalFile *w = (WalFile *)f;
  return w->real->pMethods->xLock(w->real, lock);
}

static int walUnlock(sqlite3_file *f, int lock) {
  WalFile *w = (WalFile *)f;
  return w->real->pMethods->xUnlock(w->real, lock);
}

static int walCheckReservedLock(sqlite3_file *f, int *out) {
  WalFile *w = (WalFile *)f;
  return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int walFileControl(sqlite3_file *f, int op, void *arg) {
  WalFile *w = (WalFile *)f;
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int walSectorSize(sqlite3_file *f) {
  WalFile *w = (WalFile *)f;
  return w->real->pMethods->xSectorSize(w->real);
}

static int walDeviceCharacteristics(sqlite3_file *f) {
  WalFile *w = (WalFile *)f;
  return w->real->pMethods->xDeviceCharacteristics(w->real);
}

static const sqlite3_io_methods wal_methods = {
    1, walClose, walRead, walWrite, walTruncate, walSync, walFileSize, walLock, walUnlock, walCheckReservedLock,
    walFileControl, walSectorSize, walDeviceCharacteristics,
};

/* ---- the main database file: every call the base file's, the WAL flushed first where it must be ---- */

#define MAIN(f) (((MainFile *)(f))->real)

static int mainClose(sqlite3_file *f) {
  MainFile *m = (MainFile *)f;
  pthread_mutex_lock(&mains_mu);
  for (MainFile **p = &mains; *p; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      break;
    }
  }
  if (m->wal) m->wal->main = NULL;
  pthread_mutex_unlock(&mains_mu);
  return m->real->pMethods->xClose(m->real);
}
static int mainRead(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return MAIN(f)->pMethods->xRead(MAIN(f), b, n, o); }
static int mainWrite(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) { return MAIN(f)->pMethods->xWrite(MAIN(f), b, n, o); }
static int mainTruncate(sqlite3_file *f, sqlite3_int64 s) { return MAIN(f)->pMethods->xTruncate(MAIN(f), s); }
static int mainSync(sqlite3_file *f, int fl) { return MAIN(f)->pMethods->xSync(MAIN(f), fl); }
static int mainFileSize(sqlite3_file *f, sqlite3_int64 *s) { return MAIN(f)->pMethods->xFileSize(MAIN(f), s); }
static int mainLock(sqlite3_file *f, int l) { return MAIN(f)->pMethods->xLock(MAIN(f), l); }
static int mainUnlock(sqlite3_file *f, int l) { return MAIN(f)->pMethods->xUnlock(MAIN(f), l); }
static int mainCheckReservedLock(sqlite3_file *f, int *o) { return MAIN(f)->pMethods->xCheckReservedLock(MAIN(f), o); }
static int mainFileControl(sqlite3_file *f, int op, void *a) { return MAIN(f)->pMethods->xFileControl(MAIN(f), op, a); }
static int mainSectorSize(sqlite3_file *f) { return MAIN(f)->pMethods->xSectorSize(MAIN(f)); }
static int mainDeviceCharacteristics(sqlite3_file *f) { return MAIN(f)->pMethods->xDeviceCharacteristics(MAIN(f)); }
static int mainShmMap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp) { return MAIN(f)->pMethods->xShmMap(MAIN(f), pg, sz, ext, pp); }

static int mainShmLock(sqlite3_file *f, int ofst, int n, int flags) {
  MainFile *m = (MainFile *)f;
  // giving up the write lock: what a rolled-back spill left held goes out while no other writer
  // can append (the flush cannot fail the unlock; a failed one drops frames no commit published)
  if (m->wal && ofst <= WAL_WRITE_LOCK && WAL_WRITE_LOCK < ofst + n && (flags & SQLITE_SHM_UNLOCK)) flush(m->wal);
  return m->real->pMethods->xShmLock(m->real, ofst, n, flags);
}

static void mainShmBarrier(sqlite3_file *f) {
  MainFile *m = (MainFile *)f;
  if (m->wal) flush(m->wal);  // empty already when a commit frame was seen (walWrite)
  m->real->pMethods->xShmBarrier(m->real);
}

static int mainShmUnmap(sqlite3_file *f, int del) { return MAIN(f)->pMethods->xShmUnmap(MAIN(f), del); }
static int mainFetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) { return MAIN(f)->pMethods->xFetch(MAIN(f), o, n, pp); }
static int mainUnfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return MAIN(f)->pMethods->xUnfetch(MAIN(f), o, p); }

/* one table for each version of the base file's methods: SQLite calls what the version offers */
#define MAIN_METHODS(v)                                                                                               \
  {                                                                                                                   \
    v, mainClose, mainRead, mainWrite, mainTruncate, mainSync, mainFileSize, mainLock, mainUnlock,                     \
        mainCheckReservedLock, mainFileControl, mainSectorSize, mainDeviceCharacteristics, mainShmMap, mainShmLock,   \
        mainShmBarrier, mainShmUnmap, mainFetch, mainUnfetch,                                                         \
  }
static const sqlite3_io_methods main_methods[3] = {MAIN_METHODS(1), MAIN_METHODS(2), MAIN_METHODS(3)};

/* ---- the VFS ------------------------------------------------------------------------------ */

static int batchOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out) {
  (void)vfs;
  if (name && (flags & SQLITE_OPEN_MAIN_DB)) {
    MainFile *m = (MainFile *)f;
    memset(m, 0, sizeof(*m));
    m->real = real_of(f, sizeof(MainFile));
    int rc = base_vfs->xOpen(base_vfs, name, m->real, flags, out);
    if (!m->real->pMethods) {
      f->pMethods = NULL;
      return rc;
    }
    int v = m->real->pMethods->iVersion;
    f->pMethods = &main_methods[v < 1 ? 0 : v > 3 ? 2 : v - 1];
    if (rc == SQLITE_OK) {
      m->name = name;
      pthread_mutex_lock(&mains_mu);
      m->next = mains;
      mains = m;
      pthread_mutex_unlock(&mains_mu);
    }
    return rc;
  }
  if (name && (flags & SQLITE_OPEN_WAL)) {
    WalFile *w = (WalFile *)f;
    memset(w, 0, sizeof(*w));
    w->real = real_of(f, sizeof(WalFile));
    int rc = base_vfs->xOpen(base_vfs, name, w->real, flags, out);
    if (!w->real->pMethods) {
      f->pMethods = NULL;
      return rc;
    }
    f->pMethods = &wal_methods;
    if (rc != SQLITE_OK) return rc;
    w->held = malloc(HOLD_BYTES);  // none: every write goes straight through
    const char *db = sqlite3_filename_database(name);
    pthread_mutex_lock(&mains_mu);
    for (MainFile *m = mains; m; m = m->next) {
      if (m->name == db && !m->wal) {
        m->wal = w;
        w->main = m;
        break;
      }
    }
    pthread_mutex_unlock(&mains_mu);
    // with no main file to tell it of the write lock's release, holding could outlive a rollback
    if (!w->main) {
      free(w->held);
      w->held = NULL;
    }
    return rc;
  }
  return base_vfs->xOpen(base_vfs, name, f, flags, out);
}

static int batchDelete(sqlite3_vfs *v, const char *n, int sync) { (void)v; return base_vfs->xDelete(base_vfs, n, sync); }
static int batchAccess(sqlite3_vfs *v, const char *n, int fl, int *out) { (void)v; return base_vfs->xAccess(base_vfs, n, fl, out); }
static int batchFullPathname(sqlite3_vfs *v, const char *n, int len, char *out) { (void)v; return base_vfs->xFullPathname(base_vfs, n, len, out); }
static void *batchDlOpen(sqlite3_vfs *v, const char *n) { (void)v; return base_vfs->xDlOpen(base_vfs, n); }
static void batchDlError(sqlite3_vfs *v, int n, char *msg) { (void)v; base_vfs->xDlError(base_vfs, n, msg); }
static void (*batchDlSym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return base_vfs->xDlSym(base_vfs, h, s); }
static void batchDlClose(sqlite3_vfs *v, void *h) { (void)v; base_vfs->xDlClose(base_vfs, h); }
static int batchRandomness(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xRandomness(base_vfs, n, out); }
static int batchSleep(sqlite3_vfs *v, int us) { (void)v; return base_vfs->xSleep(base_vfs, us); }
static int batchCurrentTime(sqlite3_vfs *v, double *t) { (void)v; return base_vfs->xCurrentTime(base_vfs, t); }
static int batchGetLastError(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xGetLastError(base_vfs, n, out); }
static int batchCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *t) { (void)v; return base_vfs->xCurrentTimeInt64(base_vfs, t); }
static int batchSetSystemCall(sqlite3_vfs *v, const char *n, sqlite3_syscall_ptr p) { (void)v; return base_vfs->xSetSystemCall(base_vfs, n, p); }
static sqlite3_syscall_ptr batchGetSystemCall(sqlite3_vfs *v, const char *n) { (void)v; return base_vfs->xGetSystemCall(base_vfs, n); }
static const char *batchNextSystemCall(sqlite3_vfs *v, const char *n) { (void)v; return base_vfs->xNextSystemCall(base_vfs, n); }

#ifdef _WIN32
__declspec(dllexport)
#endif
/* The entry point SQLite derives from the file name agentfs-walbatch.so. */
int sqlite3_agentfswalbatch_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  (void)db;
  (void)err;
  SQLITE_EXTENSION_INIT2(api);
  if (sqlite3_vfs_find(VFS_NAME)) return SQLITE_OK_LOAD_PERMANENTLY;  // loaded before
  sqlite3_vfs *b = sqlite3_vfs_find(NULL);
  // the base must be a VFS with shared memory and system calls (unix): no batching over another
  if (!b || b->iVersion < 3) return SQLITE_ERROR;
  base_vfs = b;
  batch_vfs = *b;
  batch_vfs.zName = VFS_NAME;
  batch_vfs.pNext = NULL;
  batch_vfs.pAppData = NULL;
  size_t wrapper = sizeof(MainFile) > sizeof(WalFile) ? sizeof(MainFile) : sizeof(WalFile);
  batch_vfs.szOsFile = (int)(ROUND8(wrapper) + (size_t)b->szOsFile);
  batch_vfs.xOpen = batchOpen;
  batch_vfs.xDelete = batchDelete;
  batch_vfs.xAccess = batchAccess;
  batch_vfs.xFullPathname = batchFullPathname;
  batch_vfs.xDlOpen = batchDlOpen;
  batch_vfs.xDlError = batchDlError;
  batch_vfs.xDlSym = batchDlSym;
  batch_vfs.xDlClose = batchDlClose;
  batch_vfs.xRandomness = batchRandomness;
  batch_vfs.xSleep = batchSleep;
  batch_vfs.xCurrentTime = batchCurrentTime;
  batch_vfs.xGetLastError = batchGetLastError;
  batch_vfs.xCurrentTimeInt64 = batchCurrentTimeInt64;
  batch_vfs.xSetSystemCall = batchSetSystemCall;
  batch_vfs.xGetSystemCall = batchGetSystemCall;
  batch_vfs.xNextSystemCall = batchNextSystemCall;
  int rc = sqlite3_vfs_register(&batch_vfs, 0);  // by name only (?vfs=): no other connection changes
  return rc == SQLITE_OK ? SQLITE_OK_LOAD_PERMANENTLY : rc;
}
