/* make bench: the floor under sysmon's HTTP latency rows on this machine.
 *
 * A server that does nothing at all but answer: for each request it sends
 * one answer built once at start, with sysmon's status line and header
 * names (those of its /data.json and /metrics answers) and a body read from
 * BODYFILE, which the bench captures from sysmon's own answer, so the bytes
 * on the wire are the same. What sysmon's p99 is above this one's, in the
 * same run under the same wrk, is its own; what this one's is, is the
 * kernel's loopback and the scheduler's turns (wrk's two threads and the
 * server share the cores), which no change to sysmon can cut.
 *
 *   httpfloor PORT BODYFILE [CONTENT_TYPE [EXTRA_LINES]]
 *       serves on 127.0.0.1:PORT until killed (CONTENT_TYPE defaults to
 *       application/json; EXTRA_LINES, separated by newlines, are sysmon's
 *       lines after Cache-Control: a /metrics answer's Vary and, gzipped,
 *       Content-Encoding; the bench passes what sysmon sent)
 *
 * The readiness model is the one of sysmon's vendored tiny_http reactor
 * (src/vendor/tiny_http/src/reactor.rs, PATCHES.md *Design*): one thread,
 * one epoll reporting at most 64 events a wait; the listener
 * level-triggered and accepted from in batches of 64; connections
 * non-blocking, registered edge-triggered for input and output, read until
 * EAGAIN with a 16 KiB read; each answer written as soon as its request is
 * read (one send; sysmon's is one writev of head and body), what the
 * socket does not take written on EPOLLOUT, and nothing more
 * read from that connection until it is all written (so pipelined requests
 * are answered in order); then reading goes on. The thread asks for the
 * 100 us scheduler slice sysmon's loop thread asks for (src/sys/sched.rs;
 * ignored before Linux 6.12), so that the busy-box rows compare the work,
 * not the slice.
 *
 * What it does not do: parse anything but the end of a head (CRLF CRLF,
 * found across reads by the count of its bytes matched so far; the request
 * line and headers are not looked at, every request gets the same answer),
 * close a connection before the client does, keep deadlines, bound
 * connections, back off when out of descriptors or refuse anything. The
 * listen backlog is 128, as std's TcpListener gives sysmon. No allocation
 * per request or connection: a connection's state is three numbers in a
 * table indexed by its descriptor. Nothing is asserted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define BATCH 64

/* One connection: how much of "\r\n\r\n" ends what was read so far
 * (0-3), how many requests are read and not yet answered, and how much of
 * the answer being written has gone out. */
struct conn {
    unsigned matched;
    unsigned long owed;
    size_t sent;
};

static struct conn conns[MAX_FDS];
static char *answer;
static size_t answer_len;
static char scratch[16 * 1024];

/* The answer sysmon sends for /data.json (and /metrics, with its
 * Content-Type and extra lines): the same lines in the same order; Date is
 * the start's. */
static int build_answer(const char *body_path, const char *content_type,
                        const char *extra_lines) {
    FILE *f = fopen(body_path, "rb");
    if (!f) {
        perror(body_path);
        return -1;
    }
    static char body[8 << 20];
    size_t body_len = fread(body, 1, sizeof body, f);
    if (ferror(f) || !feof(f)) {
        fprintf(stderr, "%s: unreadable or over 8 MiB\n", body_path);
        fclose(f);
        return -1;
    }
    fclose(f);
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&now));
    /* EXTRA_LINES as header lines: each newline-separated line, CRLF-ended. */
    char extra[512];
    size_t extra_len = 0;
    for (const char *line = extra_lines; *line;) {
        size_t n = strcspn(line, "\n");
        if (n > 0) {
            if (extra_len + n + 3 > sizeof extra) {
                fprintf(stderr, "extra lines too long\n");
                return -1;
            }
            memcpy(extra + extra_len, line, n);
            memcpy(extra + extra_len + n, "\r\n", 2);
            extra_len += n + 2;
        }
        line += n + (line[n] == '\n');
    }
    extra[extra_len] = '\0';
    char head[1024];
    int head_len = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\n"
                            "Server: tiny-http (Rust)\r\n"
                            "Date: %s\r\n"
                            "Content-Type: %s\r\n"
                            "X-Content-Type-Options: nosniff\r\n"
                            "Referrer-Policy: no-referrer\r\n"
                            "Cache-Control: no-store\r\n"
                            "%s"
                            "Content-Length: %zu\r\n"
                            "\r\n",
                            date, content_type, extra, body_len);
    if (head_len < 0 || (size_t)head_len >= sizeof head) {
        fprintf(stderr, "content type too long\n");
        return -1;
    }
    answer_len = (size_t)head_len + body_len;
    answer = malloc(answer_len);
    if (!answer) {
        perror("malloc");
        return -1;
    }
    memcpy(answer, head, (size_t)head_len);
    memcpy(answer + head_len, body, body_len);
    return 0;
}

/* sysmon's loop thread's slice (src/sys/sched.rs): SCHED_OTHER kept,
 * sched_runtime 100 us. Best effort, as there. */
static void request_short_slice(void) {
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
        uint32_t util_min, util_max;
    } attr;
    memset(&attr, 0, sizeof attr);
    if (syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0 || attr.policy != 0) {
        return;
    }
    attr.size = sizeof attr;
    attr.flags = 0x01; /* SCHED_FLAG_RESET_ON_FORK */
    attr.runtime = 100 * 1000;
    attr.priority = 0;
    attr.deadline = 0;
    attr.period = 0;
    syscall(SYS_sched_setattr, 0, &attr, 0);
}

static void close_conn(int fd) {
    conns[fd] = (struct conn){0, 0, 0};
    close(fd); /* also takes it out of the epoll */
}

/* Counts the heads that end in `bytes`, carrying a partial CRLF CRLF over
 * to the next read. */
static void count_heads(struct conn *c, const char *bytes, size_t n) {
    static const char end[4] = {'\r', '\n', '\r', '\n'};
    for (size_t i = 0; i < n; i++) {
        if (bytes[i] == end[c->matched]) {
            if (++c->matched == 4) {
                c->owed++;
                c->matched = 0;
            }
        } else {
            c->matched = bytes[i] == '\r';
        }
    }
}

/* Writes what is owed; 1 when all of it went out, 0 on EAGAIN (EPOLLOUT
 * will say when to go on), -1 when the connection is gone. */
static int write_owed(int fd, struct conn *c) {
    while (c->owed > 0) {
        ssize_t n = send(fd, answer + c->sent, answer_len - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? 0 : -1;
        }
        c->sent += (size_t)n;
        if (c->sent == answer_len) {
            c->sent = 0;
            c->owed--;
        }
    }
    return 1;
}

/* Ready for input or output: write what is owed, then read until EAGAIN,
 * answering each read's requests before the next read. */
static void serve(int fd) {
    struct conn *c = &conns[fd];
    for (;;) {
        int written = write_owed(fd, c);
        if (written <= 0) {
            if (written < 0) {
                close_conn(fd);
            }
            return;
        }
        ssize_t n = recv(fd, scratch, sizeof scratch, 0);
        if (n > 0) {
            count_heads(c, scratch, (size_t)n);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close_conn(fd);
            return;
        } else if (errno == EAGAIN) {
            return;
        }
    }
}

static void accept_batch(int ep, int listener) {
    for (int i = 0; i < BATCH; i++) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return; /* EAGAIN; anything else is retried on the next report */
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        if (fd >= MAX_FDS || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: httpfloor PORT BODYFILE [CONTENT_TYPE [EXTRA_LINES]]\n");
        return 2;
    }
    if (build_answer(argv[2], argc >= 4 ? argv[3] : "application/json",
                     argc == 5 ? argv[4] : "") != 0) {
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 128) != 0) {
        fprintf(stderr, "httpfloor: 127.0.0.1:%s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    request_short_slice();
    struct epoll_event ready[BATCH];
    for (;;) {
        int n = epoll_wait(ep, ready, BATCH, -1);
        for (int i = 0; i < n; i++) {
            if (ready[i].data.fd == listener) {
                accept_batch(ep, listener);
            } else {
                serve(ready[i].data.fd);
            }
        }
    }
}
