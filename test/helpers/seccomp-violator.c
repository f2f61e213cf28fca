/*
 * seccomp-violator: makes the kernel write seccomp audit records (type=1326 / SECCOMP) on demand, for
 * kernwatch's integration tests and attribution bench. Compiled at test time by violator.ts (gcc).
 *
 * The filter matches ONE syscall, getppid (110 on x86_64): nothing else a process does trips it, and it
 * has no side effect when it is allowed.
 *
 * usage: seccomp-violator [-w] MODE [ARGS...]
 *   -w              read one line from stdin before doing anything, so that the caller can move this
 *                   process into its cgroups first (children forked later are born there).
 *   log [N]         SECCOMP_RET_LOG (code=0x7ffc0000), call getppid N times (default 1), exit 0
 *   errno [N]       SECCOMP_RET_ERRNO|EPERM with SECCOMP_FILTER_FLAG_LOG (code=0x50000 on 5.x+ kernels)
 *   kill            SECCOMP_RET_KILL_PROCESS (code=0x80000000): this process dies of SIGSYS
 *   hold            stay alive until stdin reaches EOF, then exit 0 (a live process to look at)
 *   wait-kill       wait for a line on stdin, then KILL_PROCESS as in `kill` (dies when the caller says)
 *   zombie          fork one child that dies at once under KILL_PROCESS; keep it unreaped (a zombie)
 *                   until a line (or EOF) on stdin, then reap it and exit 0
 *   fork N LIFE_MS GAP_MS kill|log|errno
 *                   fork N children, one every GAP_MS; each lives LIFE_MS, then calls getppid under a
 *                   KILL_PROCESS filter (it dies), a LOG filter or an ERRNO filter loaded with
 *                   SECCOMP_FILTER_FLAG_LOG (it exits 0 after the call). The parent
 *                   reaps every child the moment it ends (pselect on SIGCHLD), like a shell or a
 *                   container's init would, so /proc/<child> is gone right after the violation.
 *
 * Output (stdout, one line per fact, written with write(2) so lines from children never interleave):
 *   ready PID                          after -w was satisfied (or at start), PID = this process
 *   forked CHILD_PID T_MS              (fork mode, parent) right after fork()
 *   violate PID T_MS                   (child / log / errno / kill) just before the violating call
 *   reaped CHILD_PID SIGNAL T_MS       (fork mode, parent) SIGNAL = terminating signal, 0 = exited
 *   died CHILD_PID SIGNAL T_MS         (zombie mode) the child has ended and is not reaped yet
 *   done MODE N=… killed=… eperm=…     last line
 * T_MS = CLOCK_REALTIME in ms with 3 decimals: the same clock as the audit timestamp msg=audit(SEC.MS:N).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif

static int install(unsigned int action, unsigned int flags) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("no_new_privs"); return -1; }
    if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog)) { perror("seccomp"); return -1; }
    return 0;
}

static double realtime_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One write(2) per line: atomic on a pipe (< PIPE_BUF), and no stdio buffer to be duplicated by fork. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(1, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += w;
    }
}

static void sleep_ms(double ms) {
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

static void on_sigchld(int s) { (void)s; }

/* One byte at a time: nothing after the newline may be swallowed from the pipe. Returns at EOF too. */
static void read_line(void) {
    char c;
    ssize_t r;
    while ((r = read(0, &c, 1)) == 1 && c != '\n') {}
    if (r < 0 && errno != EINTR) perror("read stdin");
}

static int zombie_mode(void) {
    pid_t c = fork();
    if (c < 0) { perror("fork"); return 1; }
    if (c == 0) {
        if (install(SECCOMP_RET_KILL_PROCESS, 0)) _exit(3);
        say("violate %d %.3f\n", (int)getpid(), realtime_ms());
        syscall(__NR_getppid);
        _exit(0);
    }
    say("forked %d %.3f\n", (int)c, realtime_ms());
    /* WNOWAIT: learn that it ended while leaving it a zombie. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT) < 0) {
        if (errno != EINTR) { perror("waitid"); return 1; }
    }
    say("died %d %d %.3f\n", (int)c, si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED ? si.si_status : 0, realtime_ms());
    read_line();
    int st;
    waitpid(c, &st, 0);
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    say("reaped %d %d %.3f\n", (int)c, sig, realtime_ms());
    say("done zombie killed=%d\n", sig == SIGSYS);
    return 0;
}

/* action: 0 log, 1 kill, 2 errno (EPERM with SECCOMP_FILTER_FLAG_LOG) */
static int fork_mode(long n, double life_ms, double gap_ms, int action) {
    /* SIGCHLD stays blocked except inside pselect, which unblocks it atomically: a child that ends
     * between our waitpid and the wait can never be left unreaped until the next timeout. */
    sigset_t chld, orig;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &orig);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigchld;
    sigaction(SIGCHLD, &sa, NULL);

    long forked = 0, reaped = 0, killed = 0;
    double next = monotonic_ms();
    while (reaped < n) {
        for (;;) {
            int st;
            pid_t p = waitpid(-1, &st, WNOHANG);
            if (p <= 0) break;
            int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
            if (sig == SIGSYS) killed++;
            reaped++;
            say("reaped %d %d %.3f\n", (int)p, sig, realtime_ms());
        }
        double now = monotonic_ms();
        if (forked < n && now >= next) {
            pid_t c = fork();
            if (c < 0) { perror("fork"); return 1; }
            if (c == 0) {
                sigprocmask(SIG_SETMASK, &orig, NULL);
                unsigned int ret = action == 1 ? SECCOMP_RET_KILL_PROCESS
                                 : action == 2 ? (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
                                               : SECCOMP_RET_LOG;
                if (install(ret, action == 2 ? SECCOMP_FILTER_FLAG_LOG : 0)) _exit(3);
                sleep_ms(life_ms);
                say("violate %d %.3f\n", (int)getpid(), realtime_ms());
                syscall(__NR_getppid);
                _exit(0); /* KILL_PROCESS: not reached */
            }
            forked++;
            say("forked %d %.3f\n", (int)c, realtime_ms());
            next += gap_ms;
            continue;
        }
        if (reaped >= n) break;
        double wait_ms = forked < n ? next - now : 1000;
        if (wait_ms < 0) wait_ms = 0;
        struct timespec ts = {(time_t)(wait_ms / 1e3), (long)((wait_ms - (double)(time_t)(wait_ms / 1e3) * 1e3) * 1e6)};
        pselect(0, NULL, NULL, NULL, &ts, &orig);
    }
    say("done fork N=%ld killed=%ld\n", n, killed);
    return 0;
}

int main(int argc, char **argv) {
    int argi = 1;
    int wait_stdin = 0;
    if (argi < argc && !strcmp(argv[argi], "-w")) { wait_stdin = 1; argi++; }
    if (argi >= argc) {
        fprintf(stderr, "usage: %s [-w] log|errno [N] | kill | wait-kill | hold | zombie | fork N LIFE_MS GAP_MS kill|log\n", argv[0]);
        return 2;
    }
    if (wait_stdin) read_line();
    say("ready %d\n", (int)getpid());
    const char *mode = argv[argi++];
    if (!strcmp(mode, "hold")) {
        char buf[64];
        while (read(0, buf, sizeof buf) > 0) {}
        say("done hold\n");
        return 0;
    }
    if (!strcmp(mode, "zombie")) return zombie_mode();
    if (!strcmp(mode, "kill") || !strcmp(mode, "wait-kill")) {
        if (!strcmp(mode, "wait-kill")) read_line();
        if (install(SECCOMP_RET_KILL_PROCESS, 0)) return 1;
        say("violate %d %.3f\n", (int)getpid(), realtime_ms());
        syscall(__NR_getppid);
        return 1; /* not reached */
    }
    if (!strcmp(mode, "fork")) {
        if (argc - argi != 4) { fprintf(stderr, "fork N LIFE_MS GAP_MS kill|log|errno\n"); return 2; }
        long n = atol(argv[argi]);
        double life = atof(argv[argi + 1]), gap = atof(argv[argi + 2]);
        const char *a = argv[argi + 3];
        int action = !strcmp(a, "kill") ? 1 : !strcmp(a, "errno") ? 2 : !strcmp(a, "log") ? 0 : -1;
        if (action < 0) { fprintf(stderr, "action must be kill, log or errno\n"); return 2; }
        return fork_mode(n, life, gap, action);
    }
    unsigned int action, flags = 0;
    if (!strcmp(mode, "log")) action = SECCOMP_RET_LOG;
    else if (!strcmp(mode, "errno")) {
        action = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
        flags = SECCOMP_FILTER_FLAG_LOG;
    } else { fprintf(stderr, "unknown mode %s\n", mode); return 2; }
    long n = argi < argc ? atol(argv[argi]) : 1;
    if (install(action, flags)) return 1;
    long eperm = 0;
    for (long i = 0; i < n; i++) {
        if (i == 0) say("violate %d %.3f\n", (int)getpid(), realtime_ms());
        long r = syscall(__NR_getppid);
        if (r == -1 && errno == EPERM) eperm++;
    }
    say("done %s N=%ld eperm=%ld\n", mode, n, eperm);
    return 0;
}
