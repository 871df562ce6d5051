/* Baseline: posix_spawn N `sleep` children and wait until every one has exec'd (seen in /proc). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

static int execd(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n < 0) return 0;
  buf[n] = 0;
  return strstr(buf, "sleep") != NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 500;
  pid_t *pids = calloc(n, sizeof *pids);
  char *args[] = {"sleep", "1000", NULL};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++) {
    if (posix_spawnp(&pids[i], "sleep", NULL, NULL, args, environ) != 0) { perror("spawn"); return 1; }
  }
  for (int i = 0; i < n; i++) while (!execd(pids[i])) ;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("%.4f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
  for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
  return 0;
}
