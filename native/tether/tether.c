/*
 * agentfs-tether: runs a command that dies with the process that started it.
 *
 * Node cannot set PR_SET_PDEATHSIG between fork and exec, so `agentfs record` starts its command
 * through this: it asks the kernel for SIGKILL when its parent dies, checks the parent did not
 * die before that (the parent's pid is given), and execs the command in its own place (same pid,
 * so signals, exit status and the process tree are the command's own).
 *
 * A failed exec is reported on fd 3 (when open) as the errno name, for the caller to tell "not
 * found" from "cannot run", and ends with the POSIX shell's status: 127 not found, 126 otherwise.
 *
 * usage: agentfs-tether PARENT_PID -- CMD [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: agentfs-tether PARENT_PID -- CMD [ARGS...]\n");
    return 125;
  }
  pid_t parent = (pid_t)atol(argv[1]);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    perror("agentfs-tether: prctl");
    return 125;
  }
  if (getppid() != parent) return 128 + SIGKILL; /* the parent is already gone */
  int report = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
  if (report >= 0) fcntl(report, F_SETFD, FD_CLOEXEC); /* closed by a successful exec */
  execvp(argv[3], argv + 3);
  int err = errno;
  if (report >= 0) {
    const char *name = err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : err == ENOEXEC ? "ENOEXEC" : err == ENOTDIR ? "ENOTDIR" : err == ELOOP ? "ELOOP" : err == E2BIG ? "E2BIG" : "EIO";
    if (write(report, name, strlen(name)) < 0) { /* nothing more to say */ }
  } else {
    fprintf(stderr, "agentfs-tether: cannot run %s: %s\n", argv[3], strerror(err));
  }
  return err == ENOENT ? 127 : 126;
}
