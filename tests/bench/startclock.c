/*
 * startclock: issue 16's "start -> first answer" for `make bench`, with the
 * harness's own cost kept small and measured beside it.
 *
 *     startclock ROUNDS PORT PATH -- CMD...
 *
 * Each round: CLOCK_MONOTONIC, posix_spawnp(CMD) (stdin, stdout and stderr
 * on /dev/null), then a raw non-blocking connect to 127.0.0.1:PORT retried
 * every 20 us (a refused connect on loopback fails at once; the sleep leaves
 * the core to the daemon) and `GET PATH HTTP/1.1`; the clock stops when the
 * first bytes of the answer arrive, counted only if the status line says 200
 * (else the client tries again). Then, with the daemon still serving, the
 * same client from a fresh clock twice: against a stub server that startclock
 * forked at its start (it answers a fixed 200 as soon as it reads the
 * request: the harness's floor, its own connect, request and two wake-ups
 * under the load of that moment) and against the daemon (one answer once it
 * serves, which includes the daemon's work for the request). Then SIGTERM
 * (SIGKILL after 5 s) and wait.
 *
 * Prints "START FLOOR SERVING", each the median in ms over the rounds ("-"
 * when half of them gave no 200 within 10 s), on stdout, and every round's
 * figures on stderr. Built by tests/bench/run.sh with the system's `cc`;
 * nothing here asserts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define GIVE_UP_NS (10LL * 1000 * 1000 * 1000)
#define RETRY_NS 20000L
#define MAX_ROUNDS 100

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void pause_retry(void) {
  struct timespec ts = {0, RETRY_NS};
  nanosleep(&ts, NULL);
}

/* One attempt: connect, send the request, wait for the answer's first bytes.
 * Returns the monotonic time of their arrival if the status is 200, 0 if the
 * port refused or the answer was not a 200 (try again), -1 on a give-up. */
static long long one_request(const struct sockaddr_in *addr,
                             const char *request, long long deadline_ns) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("startclock: socket");
    return -1;
  }
  long long arrived = 0;
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
    if (errno != EINPROGRESS)
      goto out; /* refused: nobody listens yet */
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, 1000) != 1)
      goto out;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
      goto out;
  }
  size_t request_len = strlen(request);
  if (send(fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len)
    goto out;
  /* "HTTP/1.x 200": the first read stops the clock; the rest of the status
   * code may come in a later segment (it never does on loopback). */
  char status[13];
  size_t got = 0;
  while (got < 12) {
    int left_ms = (int)((deadline_ns - now_ns()) / 1000000);
    struct pollfd p = {fd, POLLIN, 0};
    if (left_ms <= 0 || poll(&p, 1, left_ms) != 1)
      goto out;
    ssize_t n = recv(fd, status + got, 12 - got, 0);
    if (n <= 0)
      goto out; /* closed before answering (a listener not ready) */
    if (got == 0)
      arrived = now_ns();
    got += (size_t)n;
  }
  status[12] = 0;
  if (strncmp(status, "HTTP/1.", 7) != 0 || strncmp(status + 9, "200", 3) != 0)
    arrived = 0;
out:
  /* Unread data left: the close sends a reset, so no TIME_WAIT is left. */
  close(fd);
  return arrived;
}

/* Requests until a 200 arrives; ms from `t0`, or -1 after 10 s. */
static double first_answer_ms(const struct sockaddr_in *addr,
                              const char *request, long long t0) {
  long long deadline = t0 + GIVE_UP_NS;
  while (now_ns() < deadline) {
    long long arrived = one_request(addr, request, deadline);
    if (arrived > 0)
      return (double)(arrived - t0) / 1e6;
    if (arrived < 0)
      return -1;
    pause_retry();
  }
  return -1;
}

static void stop(pid_t pid) {
  kill(pid, SIGTERM);
  for (int i = 0; i < 5000; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return;
    struct timespec ts = {0, 1000000L};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of the rounds that answered; a failed round (-1) sorts first and
 * counts as slower than any: with more than half failed, "-". */
static void print_median(const double *values, int n) {
  double sorted[MAX_ROUNDS];
  int failed = 0;
  for (int i = 0; i < n; i++) {
    sorted[i] = values[i] < 0 ? 1e18 : values[i];
    failed += values[i] < 0;
  }
  qsort(sorted, (size_t)n, sizeof sorted[0], by_value);
  double mid = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  if (failed * 2 >= n || mid >= 1e18)
    printf("-");
  else
    printf("%.2f", mid);
}

/* Forks the floor's stub server on an ephemeral loopback port; fills `addr`
 * and returns its pid, or -1. */
static pid_t start_stub_server(struct sockaddr_in *addr) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t len = sizeof *addr;
  if (listener < 0 || bind(listener, (struct sockaddr *)addr, len) != 0 ||
      listen(listener, 16) != 0 ||
      getsockname(listener, (struct sockaddr *)addr, &len) != 0) {
    perror("startclock: stub server");
    return -1;
  }
  pid_t pid = fork();
  if (pid != 0) {
    close(listener);
    return pid;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* never outlives startclock */
  static const char answer[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  for (;;) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
      continue;
    char request[512];
    if (recv(fd, request, sizeof request, 0) > 0)
      send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL);
    close(fd);
  }
}

int main(int argc, char **argv) {
  if (argc < 6 || strcmp(argv[4], "--") != 0) {
    fprintf(stderr, "usage: startclock ROUNDS PORT PATH -- CMD...\n");
    return 2;
  }
  int rounds = atoi(argv[1]);
  int port = atoi(argv[2]);
  if (rounds < 1 || rounds > MAX_ROUNDS || port < 1 || port > 65535) {
    fprintf(stderr, "startclock: ROUNDS 1..%d, PORT 1..65535\n", MAX_ROUNDS);
    return 2;
  }
  char request[512];
  snprintf(request, sizeof request,
           "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
           argv[3], port);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* The 20 us retry sleep as asked, not the default 50 us of slack. */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  struct sockaddr_in stub_addr = {0};
  stub_addr.sin_family = AF_INET;
  stub_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  pid_t stub = start_stub_server(&stub_addr);
  if (stub < 0)
    return 1;

  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);

  double start_ms[MAX_ROUNDS], floor_ms[MAX_ROUNDS], serving_ms[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    long long before = one_request(&addr, request, now_ns() + 100000000LL);
    if (before != 0) {
      if (before > 0)
        fprintf(stderr, "startclock: port %d answers before the start\n", port);
      return 1;
    }
    pid_t pid;
    long long t0 = now_ns();
    int err = posix_spawnp(&pid, argv[5], &quiet, NULL, argv + 5, environ);
    if (err != 0) {
      fprintf(stderr, "startclock: spawn %s: %s\n", argv[5], strerror(err));
      return 1;
    }
    start_ms[r] = first_answer_ms(&addr, request, t0);
    floor_ms[r] = first_answer_ms(&stub_addr, request, now_ns());
    serving_ms[r] =
        start_ms[r] < 0 ? -1 : first_answer_ms(&addr, request, now_ns());
    stop(pid);
  }
  fprintf(stderr, "startclock %s: start ms", argv[5]);
  for (int r = 0; r < rounds; r++)
    fprintf(stderr, " %.2f", start_ms[r]);
  fprintf(stderr, "; floor ms");
  for (int r = 0; r < rounds; r++)
    fprintf(stderr, " %.3f", floor_ms[r]);
  fprintf(stderr, "; serving ms");
  for (int r = 0; r < rounds; r++)
    fprintf(stderr, " %.3f", serving_ms[r]);
  fprintf(stderr, "\n");
  kill(stub, SIGKILL);
  waitpid(stub, NULL, 0);
  print_median(start_ms, rounds);
  printf(" ");
  print_median(floor_ms, rounds);
  printf(" ");
  print_median(serving_ms, rounds);
  printf("\n");
  return 0;
}
