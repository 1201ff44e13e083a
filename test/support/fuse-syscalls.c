// Exercises POSIX syscalls directly against a directory (a FUSE mount in the tests).
// Usage: fuse-syscalls DIR. Prints "ok <check>" per check; on the first failure prints
// "FAIL <check>: <why>" and exits 1.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static const char* check = "start";

static void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stdout, "FAIL %s: ", check);
  vfprintf(stdout, fmt, ap);
  fprintf(stdout, " (errno %d %s)\n", errno, strerror(errno));
  va_end(ap);
  exit(1);
}

#define REQUIRE(cond, ...) \
  do {                     \
    if (!(cond)) fail(__VA_ARGS__); \
  } while (0)

static void ok(void) { printf("ok %s\n", check); fflush(stdout); }

static void write_all(int fd, const void* buf, size_t n) {
  REQUIRE(write(fd, buf, n) == (ssize_t)n, "short write");
}

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
  REQUIRE(chdir(argv[1]) == 0, "chdir");
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  REQUIRE(dfd >= 0, "open dir");
  char buf[65536];
  struct stat st, st2;

  check = "openat O_CREAT|O_EXCL";
  int fd = openat(dfd, "a.txt", O_CREAT | O_EXCL | O_RDWR, 0640);
  REQUIRE(fd >= 0, "create");
  REQUIRE(openat(dfd, "a.txt", O_CREAT | O_EXCL | O_RDWR, 0640) < 0 && errno == EEXIST, "second O_EXCL must fail with EEXIST");
  REQUIRE(fstat(fd, &st) == 0 && (st.st_mode & 07777) == (0640 & ~0) && S_ISREG(st.st_mode), "mode %o", st.st_mode);
  ok();

  check = "pwrite/pread at offsets";
  write_all(fd, "hello world", 11);
  REQUIRE(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite");
  REQUIRE(pwrite(fd, "!", 1, 11) == 1, "pwrite end");
  REQUIRE(pread(fd, buf, 100, 0) == 12 && memcmp(buf, "HELLO world!", 12) == 0, "content %.12s", buf);
  REQUIRE(pread(fd, buf, 5, 6) == 5 && memcmp(buf, "world", 5) == 0, "pread middle");
  REQUIRE(pread(fd, buf, 5, 100) == 0, "pread past end");
  ok();

  check = "dup shares the offset";
  int fd2 = dup(fd);
  REQUIRE(fd2 >= 0, "dup");
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0, "lseek");
  REQUIRE(read(fd2, buf, 5) == 5 && lseek(fd, 0, SEEK_CUR) == 5, "offset not shared");
  close(fd2);
  ok();

  check = "fsync/fdatasync";
  REQUIRE(fsync(fd) == 0, "fsync");
  REQUIRE(fdatasync(fd) == 0, "fdatasync");
  ok();

  check = "ftruncate shrink/extend";
  REQUIRE(ftruncate(fd, 5) == 0, "shrink");
  REQUIRE(fstat(fd, &st) == 0 && st.st_size == 5, "size %ld", (long)st.st_size);
  REQUIRE(ftruncate(fd, 8192) == 0, "extend");
  REQUIRE(pread(fd, buf, 8192, 0) == 8192 && memcmp(buf, "HELLO", 5) == 0, "read after extend");
  for (int i = 5; i < 8192; i++) REQUIRE(buf[i] == 0, "byte %d not zero", i);
  close(fd);
  ok();

  check = "O_APPEND";
  fd = open("a.txt", O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0, "open");
  write_all(fd, "tail", 4);
  close(fd);
  REQUIRE(stat("a.txt", &st) == 0 && st.st_size == 8196, "size after append %ld", (long)st.st_size);
  ok();

  check = "O_TRUNC";
  fd = open("a.txt", O_RDWR | O_TRUNC);
  REQUIRE(fd >= 0, "open");
  REQUIRE(fstat(fd, &st) == 0 && st.st_size == 0, "size %ld", (long)st.st_size);
  write_all(fd, "new", 3);
  close(fd);
  ok();

  check = "sparse file";
  fd = open("sparse", O_CREAT | O_RDWR, 0644);
  REQUIRE(fd >= 0, "create");
  REQUIRE(pwrite(fd, "end", 3, 10 * 1024 * 1024) == 3, "pwrite far");
  REQUIRE(fstat(fd, &st) == 0 && st.st_size == 10 * 1024 * 1024 + 3, "size");
  REQUIRE(pread(fd, buf, 4096, 5 * 1024 * 1024) == 4096, "read hole");
  for (int i = 0; i < 4096; i++) REQUIRE(buf[i] == 0, "hole byte %d", i);
  close(fd);
  ok();

  check = "link keeps st_ino";
  REQUIRE(link("a.txt", "hard") == 0, "link");
  REQUIRE(stat("a.txt", &st) == 0 && stat("hard", &st2) == 0, "stat");
  REQUIRE(st.st_ino == st2.st_ino && st.st_nlink == 2, "ino %lu vs %lu, nlink %lu", (unsigned long)st.st_ino,
          (unsigned long)st2.st_ino, (unsigned long)st.st_nlink);
  ok();

  check = "rename over existing";
  fd = open("b.txt", O_CREAT | O_WRONLY, 0644);
  write_all(fd, "bbb", 3);
  close(fd);
  REQUIRE(rename("b.txt", "hard") == 0, "rename");
  REQUIRE(stat("hard", &st2) == 0 && st2.st_size == 3 && st2.st_ino != st.st_ino, "target not replaced");
  REQUIRE(stat("a.txt", &st) == 0 && st.st_nlink == 1, "nlink after replace %lu", (unsigned long)st.st_nlink);
  REQUIRE(access("b.txt", F_OK) != 0 && errno == ENOENT, "old name still there");
  ok();

  check = "renameat2 RENAME_NOREPLACE";
  REQUIRE(syscall(SYS_renameat2, AT_FDCWD, "hard", AT_FDCWD, "a.txt", RENAME_NOREPLACE) != 0 && errno == EEXIST,
          "must refuse");
  ok();

  check = "unlink while open";
  fd = open("gone", O_CREAT | O_RDWR, 0644);
  write_all(fd, "still here", 10);
  REQUIRE(unlink("gone") == 0, "unlink");
  REQUIRE(access("gone", F_OK) != 0, "name still visible");
  REQUIRE(pread(fd, buf, 100, 0) == 10 && memcmp(buf, "still here", 10) == 0, "data lost after unlink");
  write_all(fd, "!", 1);
  REQUIRE(fstat(fd, &st) == 0 && st.st_nlink == 0, "nlink %lu", (unsigned long)st.st_nlink);
  close(fd);
  ok();

  check = "stat after copy";
  {
    int in = open("sparse", O_RDONLY), out = open("copy", O_CREAT | O_WRONLY | O_TRUNC, 0600);
    REQUIRE(in >= 0 && out >= 0, "open");
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) write_all(out, buf, n);
    close(in);
    close(out);
    REQUIRE(stat("sparse", &st) == 0 && stat("copy", &st2) == 0 && st.st_size == st2.st_size, "sizes differ");
  }
  ok();

  check = "symlink/readlink";
  REQUIRE(symlink("a.txt", "sym") == 0, "symlink");
  ssize_t n = readlink("sym", buf, sizeof buf);
  REQUIRE(n == 5 && memcmp(buf, "a.txt", 5) == 0, "readlink");
  REQUIRE(lstat("sym", &st) == 0 && S_ISLNK(st.st_mode), "lstat");
  REQUIRE(stat("sym", &st) == 0 && S_ISREG(st.st_mode), "follow");
  ok();

  check = "mkfifo/mknod";
  REQUIRE(mkfifo("fifo", 0600) == 0, "mkfifo");
  REQUIRE(stat("fifo", &st) == 0 && S_ISFIFO(st.st_mode), "fifo type");
  REQUIRE(mknod("chr", S_IFCHR | 0600, makedev(1, 3)) == 0, "mknod");
  REQUIRE(stat("chr", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3), "chr rdev");
  ok();

  check = "chmod/chown";
  REQUIRE(chmod("a.txt", 0604) == 0, "chmod");
  REQUIRE(stat("a.txt", &st) == 0 && (st.st_mode & 07777) == 0604, "mode %o", st.st_mode & 07777);
  REQUIRE(chown("a.txt", 1234, 5678) == 0, "chown");
  REQUIRE(stat("a.txt", &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678, "owner %d:%d", st.st_uid, st.st_gid);
  ok();

  check = "utimensat nanoseconds";
  {
    struct timespec ts[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
    REQUIRE(utimensat(AT_FDCWD, "a.txt", ts, 0) == 0, "utimensat");
    REQUIRE(stat("a.txt", &st) == 0, "stat");
    REQUIRE(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 123456789, "atime %ld.%ld", (long)st.st_atim.tv_sec,
            st.st_atim.tv_nsec);
    REQUIRE(st.st_mtim.tv_sec == 1500000000 && st.st_mtim.tv_nsec == 987654321, "mtime %ld.%ld", (long)st.st_mtim.tv_sec,
            st.st_mtim.tv_nsec);
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    REQUIRE(utimensat(AT_FDCWD, "a.txt", now, 0) == 0, "UTIME_NOW");
    REQUIRE(stat("a.txt", &st2) == 0 && st2.st_atim.tv_sec > 1600000000 && st2.st_mtim.tv_sec == 1500000000, "now/omit");
  }
  ok();

  check = "statfs";
  {
    struct statfs sf;
    REQUIRE(statfs(".", &sf) == 0, "statfs");
    REQUIRE(sf.f_bsize > 0 && sf.f_namelen == 255, "bsize %ld namelen %ld", (long)sf.f_bsize, (long)sf.f_namelen);
  }
  ok();

  check = "directories";
  REQUIRE(mkdir("d", 0755) == 0, "mkdir");
  REQUIRE(mkdir("d", 0755) != 0 && errno == EEXIST, "mkdir twice");
  REQUIRE(rename("a.txt", "d/moved") == 0, "move into dir");
  REQUIRE(rmdir("d") != 0 && errno == ENOTEMPTY, "rmdir non-empty");
  REQUIRE(unlink("d/moved") == 0 && rmdir("d") == 0, "cleanup");
  REQUIRE(open("nope/x", O_RDONLY) < 0 && errno == ENOENT, "ENOENT");
  REQUIRE(open("sparse/x", O_RDONLY) < 0 && errno == ENOTDIR, "ENOTDIR");
  ok();

  check = "getdents with stable offsets (10k entries)";
  {
    const int N = 10000;
    REQUIRE(mkdir("big", 0755) == 0, "mkdir");
    for (int i = 0; i < N; i++) {
      snprintf(buf, sizeof buf, "big/entry-%05d", i);
      int f = open(buf, O_CREAT | O_WRONLY, 0644);
      REQUIRE(f >= 0, "create %s", buf);
      close(f);
    }
    DIR* d = opendir("big");
    REQUIRE(d != NULL, "opendir");
    int seen = 0, deletedUnseen = 0;
    long mark = -1;
    char marked[256] = "";
    struct dirent* e;
    char* names = calloc(N, 1);
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      int i = atoi(e->d_name + 6);
      REQUIRE(i >= 0 && i < N && !names[i], "duplicate or bad entry %s", e->d_name);
      names[i] = 1;
      seen++;
      if (seen == N / 2) {
        mark = telldir(d);
        // removing entries already read must not disturb the rest of the listing
        for (int j = 0; j < 100; j++) {
          snprintf(buf, sizeof buf, "big/entry-%05d", j);
          REQUIRE(unlink(buf) == 0, "unlink %s", buf);
          if (!names[j]) deletedUnseen++;
        }
      }
      if (seen == N / 2 + 1) snprintf(marked, sizeof marked, "%s", e->d_name);
    }
    REQUIRE(seen == N - deletedUnseen, "saw %d of %d entries", seen, N - deletedUnseen);
    seekdir(d, mark);
    e = readdir(d);
    REQUIRE(e && strcmp(e->d_name, marked) == 0, "seekdir back gave %s, expected %s", e ? e->d_name : "(end)", marked);
    closedir(d);
    free(names);
  }
  ok();

  printf("all ok\n");
  return 0;
}
