/*
 * agentfs-sandbox: runs a command in new user, mount and PID namespaces where
 *   - BIND pairs are bind-mounted (the overlay's FUSE mount over the working directory),
 *   - HIDE directories are covered by an empty read-only tmpfs,
 *   - every other mount is read-only except the RW paths,
 *   - /proc is a fresh, read-only instance showing only the sandbox's processes (no
 *     /proc/<pid>/root way out to the host's mounts, no sysctl writes),
 *   - /dev holds only null, zero, full, random, urandom, tty, the terminal's pts and a private shm,
 *   - the hostname is the sandbox's own (UTS namespace),
 *   - the command runs with no capabilities (bounding, inheritable, ambient sets cleared,
 *     no_new_privs), so it cannot undo any of the above.
 * Exit status and signals pass through: the outer process exits like the command did.
 *
 * usage: agentfs-sandbox [--bind SRC DST]... [--rw PATH]... [--hide DIR]... [--chdir DIR] -- CMD [ARGS...]
 *        agentfs-sandbox --check    exit 0 when the namespaces can be made here (asked before
 *                                   `agentfs run` creates anything), else say why and exit 125
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXP 256
static const char *binds[MAXP][2];
static int nbinds;
static const char *rws[MAXP];
static int nrws;
static const char *hides[MAXP];
static int nhides;
static const char *workdir;
static volatile pid_t target = -1;

static void die(const char *what, const char *arg) {
  fprintf(stderr, "agentfs-sandbox: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
  _exit(125);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) die("open", path);
  if (write(fd, text, strlen(text)) < 0) die("write", path);
  close(fd);
}

/* Forward signals sent by a process (SI_USER/SI_QUEUE); terminal-generated ones (SI_KERNEL)
 * already reached the command, which shares our process group. */
static void forward(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  if (target > 0 && info && (info->si_code == SI_USER || info->si_code == SI_QUEUE || info->si_code == SI_TKILL)) kill(target, sig);
}

static void install_forwarders(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < 32; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD || s == SIGSEGV || s == SIGBUS || s == SIGILL || s == SIGFPE ||
        s == SIGTSTP || s == SIGTTIN || s == SIGTTOU || s == SIGCONT || s == SIGWINCH)
      continue;
    sigaction(s, &sa, NULL);
  }
}

/* Un-escapes the octal escapes (\040 for space) of /proc/self/mountinfo paths. */
static void unescape(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
      *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
      p += 3;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
}

static int under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  if (n == 1 && dir[0] == '/') return 1;
  return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static unsigned long flags_of(const char *opts) {
  unsigned long f = 0;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", opts);
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (!strcmp(tok, "nosuid")) f |= MS_NOSUID;
    else if (!strcmp(tok, "nodev")) f |= MS_NODEV;
    else if (!strcmp(tok, "noexec")) f |= MS_NOEXEC;
    else if (!strcmp(tok, "noatime")) f |= MS_NOATIME;
    else if (!strcmp(tok, "nodiratime")) f |= MS_NODIRATIME;
    else if (!strcmp(tok, "relatime")) f |= MS_RELATIME;
    else if (!strcmp(tok, "strictatime")) f |= MS_STRICTATIME;
  }
  return f;
}

/* Remounts every mount read-only except the writable paths (and what lies below them). */
static void remount_readonly(void) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) die("open", "/proc/self/mountinfo");
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    char *fields[7];
    int n = 0;
    for (char *save, *tok = strtok_r(line, " ", &save); tok && n < 7; tok = strtok_r(NULL, " ", &save)) fields[n++] = tok;
    if (n < 6) continue;
    char *mp = fields[4];
    unescape(mp);
    /* the sandbox's own /dev/shm stays writable (it is private to the sandbox) */
    int keep = !strcmp(mp, "/dev/shm");
    for (int i = 0; i < nrws && !keep; i++) keep = under(mp, rws[i]);
    if (keep) continue;
    unsigned long fl = flags_of(fields[5]);
    if (mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | fl, NULL) < 0) {
      /* mounts we cannot see into (permission) or that vanished: nothing writable there for us either */
      if (errno != EACCES && errno != ENOENT && errno != EINVAL) die("remount read-only", mp);
    }
  }
  fclose(f);
}

static void drop_capabilities(void) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl", "no_new_privs");
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) die("prctl", "capbset_drop");
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &hdr, data) < 0) die("capset", NULL);
}

/*
 * A minimal /dev: the host's device nodes are reachable by kuid 0 without capabilities (a raw
 * disk, for one), so the sandbox gets a fresh tmpfs with only the harmless character devices,
 * the terminal (/dev/tty, /dev/pts), and a private /dev/shm.
 */
static void minimal_dev(void) {
  static const char *devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
  enum { N = sizeof devices / sizeof devices[0] };
  int fds[N];
  char path[64], src[64];
  for (int i = 0; i < N; i++) {
    snprintf(path, sizeof path, "/dev/%s", devices[i]);
    fds[i] = open(path, O_PATH | O_CLOEXEC);
  }
  int pts = open("/dev/pts", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k") < 0) die("mount", "/dev");
  for (int i = 0; i < N; i++) {
    if (fds[i] < 0) continue;
    snprintf(path, sizeof path, "/dev/%s", devices[i]);
    int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (f < 0) die("create", path);
    close(f);
    snprintf(src, sizeof src, "/proc/self/fd/%d", fds[i]);
    if (mount(src, path, NULL, MS_BIND, NULL) < 0) die("bind", path);
    close(fds[i]);
  }
  if (pts >= 0) {
    if (mkdir("/dev/pts", 0755) < 0) die("mkdir", "/dev/pts");
    snprintf(src, sizeof src, "/proc/self/fd/%d", pts);
    if (mount(src, "/dev/pts", NULL, MS_BIND | MS_REC, NULL) < 0) die("bind", "/dev/pts");
    close(pts);
    if (symlink("pts/ptmx", "/dev/ptmx") < 0) die("symlink", "/dev/ptmx");
  }
  if (mkdir("/dev/shm", 01777) < 0) die("mkdir", "/dev/shm");
  if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0) die("mount", "/dev/shm");
  if (symlink("/proc/self/fd", "/dev/fd") < 0 || symlink("/proc/self/fd/0", "/dev/stdin") < 0 ||
      symlink("/proc/self/fd/1", "/dev/stdout") < 0 || symlink("/proc/self/fd/2", "/dev/stderr") < 0)
    die("symlink", "/dev/fd");
}

/* PID 1 of the sandbox: set up the mounts, run the command, forward signals, report its status. */
static int sandbox_init(char **cmd, int status_fd) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("make private", "/");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) die("mount", "/proc");
  minimal_dev();
  for (int i = 0; i < nbinds; i++)
    if (mount(binds[i][0], binds[i][1], NULL, MS_BIND | MS_REC, NULL) < 0) die("bind", binds[i][1]);
  for (int i = 0; i < nrws; i++) {
    int bound = 0;
    for (int j = 0; j < nbinds; j++) bound |= !strcmp(binds[j][1], rws[i]);
    if (!bound && mount(rws[i], rws[i], NULL, MS_BIND | MS_REC, NULL) < 0 && errno != ENOENT) die("bind", rws[i]);
  }
  for (int i = 0; i < nhides; i++)
    if (mount("tmpfs", hides[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000") < 0) die("hide", hides[i]);
  remount_readonly();
  if (workdir && chdir(workdir) < 0) die("chdir", workdir);

  pid_t child = fork();
  if (child < 0) die("fork", NULL);
  if (child == 0) {
    close(status_fd);
    signal(SIGPIPE, SIG_DFL);
    drop_capabilities();
    execvp(cmd[0], cmd);
    fprintf(stderr, "agentfs: %s: %s\n", cmd[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  target = child;
  install_forwarders();
  int status = 0;
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p == child) {
      status = st;
      break;
    }
  }
  if (write(status_fd, &status, sizeof status) != sizeof status) _exit(125);
  return 0; /* leaving PID 1 ends every other process of the sandbox */
}

/* New user, mount, PID and UTS namespaces, with our own uid and gid mapped to themselves. */
static void enter_namespaces(uid_t uid, gid_t gid) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS) < 0) die("unshare", "(user, mount, pid and uts namespaces)");
  char map[64];
  write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
  write_file("/proc/self/uid_map", map);
  snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
  write_file("/proc/self/gid_map", map);
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--check")) {
    enter_namespaces(getuid(), getgid());
    return 0;
  }
  int i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) { i++; break; }
    if (!strcmp(argv[i], "--bind") && i + 2 < argc && nbinds < MAXP) { binds[nbinds][0] = argv[i + 1]; binds[nbinds++][1] = argv[i + 2]; i += 2; }
    else if (!strcmp(argv[i], "--rw") && i + 1 < argc && nrws < MAXP) rws[nrws++] = argv[++i];
    else if (!strcmp(argv[i], "--hide") && i + 1 < argc && nhides < MAXP) hides[nhides++] = argv[++i];
    else if (!strcmp(argv[i], "--chdir") && i + 1 < argc) workdir = argv[++i];
    else { fprintf(stderr, "agentfs-sandbox: bad argument %s\n", argv[i]); return 125; }
  }
  if (i >= argc) { fprintf(stderr, "agentfs-sandbox: no command\n"); return 125; }
  char **cmd = argv + i;

  /* if agentfs (our parent, serving the overlay) dies, the sandbox goes with it */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 125;
  uid_t uid = getuid();
  gid_t gid = getgid();
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) die("pipe", NULL);
  enter_namespaces(uid, gid);

  pid_t init = fork();
  if (init < 0) die("fork", NULL);
  if (init == 0) {
    close(pipefd[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    _exit(sandbox_init(cmd, pipefd[1]));
  }
  close(pipefd[1]);
  target = init;
  install_forwarders();
  int st;
  while (waitpid(init, &st, 0) < 0 && errno == EINTR) {}
  int status;
  ssize_t got;
  do got = read(pipefd[0], &status, sizeof status); while (got < 0 && errno == EINTR);
  if (got != sizeof status) return WIFEXITED(st) ? (WEXITSTATUS(st) ? WEXITSTATUS(st) : 125) : 125;
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    return 128 + sig;
  }
  return WEXITSTATUS(status);
}
