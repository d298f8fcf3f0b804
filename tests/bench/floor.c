/* make bench: the floor under sysmon's sampling figures on this machine.
 *
 * The same system calls a sample makes, in C, with nothing else: no
 * parsing, no history, no HTTP. What sysmon costs above this is its own;
 * what this costs is the kernel's (rendering the /proc files) and the
 * machine's (waking a sleeping thread), which no change to sysmon can cut.
 *
 *   floor wake SECONDS           wakes every SECONDS and does nothing:
 *                                what waking a sleeping thread costs here.
 *   floor idle SECONDS MOUNT...  wakes every SECONDS (epoll_wait's timeout,
 *                                as sysmon's loop) and makes an idle
 *                                sample's calls: /proc/stat, meminfo,
 *                                loadavg, uname, a poll of the mount
 *                                table, statfs of each MOUNT, net/dev,
 *                                diskstats. Runs until killed; the bench
 *                                reads its CPU as it reads sysmon's.
 *   floor loop N MOUNT...        makes the calls of a sample of every
 *                                source (bench_sampler's "every source":
 *                                the idle sample's, plus /proc/self/stat,
 *                                the three pressure files and an fstat of
 *                                /proc/self/fd) N times after 100 warm-up
 *                                rounds and prints "us_per_sample X".
 *
 * Files are opened once and re-read with pread from offset 0, as sysmon
 * does. A file that does not exist here (no PSI, no net/dev) is skipped,
 * as sysmon skips an absent source. Nothing is asserted.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static char buf[8192];

static int open_or_skip(const char *path) {
    return open(path, O_RDONLY | O_CLOEXEC);
}

static void reread(int fd) {
    if (fd >= 0 && pread(fd, buf, sizeof buf, 0) < 0) {
        perror("pread");
    }
}

struct files {
    int stat, meminfo, loadavg, netdev, diskstats, mounts;
    int selfstat, psi[3], fddir;
};

static void open_all(struct files *f) {
    f->stat = open_or_skip("/proc/stat");
    f->meminfo = open_or_skip("/proc/meminfo");
    f->loadavg = open_or_skip("/proc/loadavg");
    f->netdev = open_or_skip("/proc/net/dev");
    f->diskstats = open_or_skip("/proc/diskstats");
    f->mounts = open_or_skip("/proc/self/mounts");
    f->selfstat = open_or_skip("/proc/self/stat");
    f->psi[0] = open_or_skip("/proc/pressure/cpu");
    f->psi[1] = open_or_skip("/proc/pressure/memory");
    f->psi[2] = open_or_skip("/proc/pressure/io");
    f->fddir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* An idle sample's calls, in sysmon's order. */
static void idle_sample(const struct files *f, char **mounts, int n_mounts) {
    struct utsname u;
    struct pollfd p = {f->mounts, POLLPRI, 0};
    struct statfs s;
    reread(f->stat);
    reread(f->meminfo);
    reread(f->loadavg);
    uname(&u);
    if (f->mounts >= 0) {
        poll(&p, 1, 0);
    }
    for (int i = 0; i < n_mounts; i++) {
        statfs(mounts[i], &s);
    }
    reread(f->netdev);
    reread(f->diskstats);
}

/* A sample of every source: the idle sample's calls and those sysmon
 * makes only when an answer asks for them. */
static void full_sample(const struct files *f, char **mounts, int n_mounts) {
    struct stat st;
    idle_sample(f, mounts, n_mounts);
    reread(f->selfstat);
    for (int i = 0; i < 3; i++) {
        reread(f->psi[i]);
    }
    if (f->fddir >= 0) {
        fstat(f->fddir, &st);
    }
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "idle") != 0 && strcmp(argv[1], "wake") != 0 &&
                     strcmp(argv[1], "loop") != 0)) {
        fprintf(stderr,
                "usage: floor wake SECONDS | floor idle SECONDS MOUNT... | floor loop N MOUNT...\n");
        return 2;
    }
    struct files f;
    open_all(&f);
    char **mounts = argv + 3;
    int n_mounts = argc - 3;
    if (strcmp(argv[1], "idle") == 0 || strcmp(argv[1], "wake") == 0) {
        int reads = strcmp(argv[1], "idle") == 0;
        int timeout_ms = atoi(argv[2]) * 1000;
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev[8];
        for (;;) {
            epoll_wait(ep, ev, 8, timeout_ms);
            if (reads) {
                idle_sample(&f, mounts, n_mounts);
            }
        }
    }
    long n = atol(argv[2]);
    for (int i = 0; i < 100; i++) {
        full_sample(&f, mounts, n_mounts);
    }
    double t0 = now_us();
    for (long i = 0; i < n; i++) {
        full_sample(&f, mounts, n_mounts);
    }
    printf("us_per_sample %.1f\n", (now_us() - t0) / n);
    return 0;
}
