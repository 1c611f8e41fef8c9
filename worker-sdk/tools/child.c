/*
 * child.c - one program run, from fork to reaping.
 *
 * fork, then execve of an absolute path: never a shell, never a PATH
 * lookup. Between fork and execve the child only makes async-signal-safe
 * calls (the parent is multithreaded): everything it needs is prepared
 * before the fork. The child resets signal dispositions and its mask (an
 * ignored SIGPIPE or a blocked SIGTERM would otherwise survive execve),
 * leads a new process group, and marks every descriptor above 2
 * close-on-exec, so neither the worker's Kafka sockets nor another job's
 * pipes leak into it. If chdir or execve fails it writes the step and
 * errno to a close-on-exec pipe: the parent reads either EOF (the program
 * runs) or the reason.
 *
 * The parent watches with poll(): stdout and stderr, a tick of at most
 * 100 ms for cancellation and the deadlines. Stopping means SIGTERM (and
 * SIGCONT, should it be stopped) to the whole group, then SIGKILL after the
 * grace period. When the program exits, waitid(WNOWAIT) sees it without
 * reaping it, so its pid still names its group while the leftovers of the
 * group get SIGKILL; then it is reaped. Each run reaps exactly its own
 * child (never waitpid(-1)), so runs on several threads do not interfere
 * and no zombie outlives child_run.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define TICK_MS 100     /* longest wait between checks of canceled() */
#define DRAIN_MS 1000   /* how long to read output left after the exit */
#define READ_CHUNK 16384
#define FD_SCAN_MAX 65536

enum step { STEP_NONE, STEP_PIPE, STEP_OPEN, STEP_FORK, STEP_DUP2, STEP_CHDIR, STEP_EXECVE };
static const char *const step_names[] = {"", "pipe", "open /dev/null", "fork",
                                         "dup2", "chdir", "execve"};

/* What the child reports when it could not execve. */
typedef struct spawn_failure {
    int step;
    int err;
} spawn_failure;

/* Everything the child needs, prepared before fork. */
typedef struct child_setup {
    const child_spec *spec;
    int devnull, out_w, err_w, report_w;
    int fd_scan_max;
    struct sigaction dfl;
    sigset_t empty;
} child_setup;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// make_pipe creates a close-on-exec pipe. A child forked by another
// thread between pipe() and fcntl() may inherit it only until its execve,
// because every child marks all its descriptors above 2 close-on-exec.
static int make_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

// child_fail reports why the child cannot run and ends it. Async-signal-safe.
static void child_fail(const child_setup *cs, int step)
{
    spawn_failure f;
    ssize_t n;

    f.step = step;
    f.err = errno;
    n = write(cs->report_w, &f, sizeof f);
    (void)n;
    _exit(127);
}

// child_exec runs in the forked child and does not return.
// Async-signal-safe calls only.
static void child_exec(const child_setup *cs)
{
    setpgid(0, 0);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &cs->dfl, NULL); /* fails harmlessly for KILL, STOP and reserved ones */
    sigprocmask(SIG_SETMASK, &cs->empty, NULL);
    if (dup2(cs->devnull, 0) < 0 || dup2(cs->out_w, 1) < 0 || dup2(cs->err_w, 2) < 0)
        child_fail(cs, STEP_DUP2);
    if (chdir(cs->spec->cwd ? cs->spec->cwd : "/") != 0)
        child_fail(cs, STEP_CHDIR);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
#endif
        for (int fd = 3; fd < cs->fd_scan_max; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    execve(cs->spec->path, cs->spec->argv, cs->spec->envp);
    child_fail(cs, STEP_EXECVE);
}

// fd_scan_max is how far the child's fallback scan of descriptors goes.
static int fd_scan_max(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > FD_SCAN_MAX)
        return FD_SCAN_MAX;
    return (int)rl.rlim_cur;
}

// read_report reads the child's spawn_failure: 1 if one came, 0 on EOF.
static int read_report(int fd, spawn_failure *f)
{
    size_t got = 0;

    while (got < sizeof *f) {
        ssize_t n = read(fd, (char *)f + got, sizeof *f - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got == sizeof *f;
}

// reap waits for pid and stores its wait status; -1 if it cannot (someone
// else reaped it).
static int reap(pid_t pid, int *status)
{
    for (;;) {
        if (waitpid(pid, status, 0) == pid)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

// has_exited says whether pid has exited, leaving it unreaped.
static int has_exited(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == ECHILD; /* EINTR: look again next tick */
    return si.si_pid == pid;
}

/* State of one watched stream. */
typedef struct stream {
    int fd;
    const char *name;
    linebuf lb;
} stream;

/* Arguments of stream_line. */
typedef struct line_ctx {
    const child_io *io;
    const char *name;
} line_ctx;

static void stream_line(const char *line, void *arg)
{
    const line_ctx *lc = arg;

    lc->io->on_line(lc->name, line, lc->io->arg);
}

// stream_read reads what is available on s; at EOF it reports the last
// partial line and closes the stream.
static void stream_read(stream *s, const child_io *io)
{
    char buf[READ_CHUNK];
    line_ctx lc = {io, s->name};
    ssize_t n = read(s->fd, buf, sizeof buf);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        linebuf_flush(&s->lb, stream_line, &lc);
        close(s->fd);
        s->fd = -1;
        return;
    }
    if (io->on_stdout && strcmp(s->name, "stdout") == 0)
        io->on_stdout(buf, (size_t)n, io->arg);
    linebuf_feed(&s->lb, buf, (size_t)n, stream_line, &lc);
}

// stop_group asks the program's group to stop.
static void stop_group(pid_t pid)
{
    kill(-pid, SIGTERM);
    kill(-pid, SIGCONT);
}

// next_wait returns the poll timeout: the tick, or less before a deadline.
static int next_wait(int64_t now, const int64_t *deadlines, int n)
{
    int64_t wait = TICK_MS;

    for (int i = 0; i < n; i++)
        if (deadlines[i] > 0 && deadlines[i] - now < wait)
            wait = deadlines[i] - now;
    return wait < 0 ? 0 : (int)wait;
}

// supervise watches pid until it exited and was reaped, and fills res.
static void supervise(pid_t pid, stream *streams, const child_spec *spec, const child_io *io,
                      child_result *res)
{
    int64_t now = now_ms();
    int64_t deadline = spec->timeout_ms > 0 ? now + spec->timeout_ms : 0;
    int64_t kill_at = 0, drain_until = 0;
    int stopping = 0, exited = 0, status = 0, lost = 0;
    child_end why = CHILD_EXITED;

    for (;;) {
        struct pollfd pfd[2];
        int n = 0;

        now = now_ms();
        if (!exited && !stopping) {
            if (io->canceled && io->canceled(io->arg))
                why = CHILD_CANCELED;
            else if (deadline && now >= deadline)
                why = CHILD_TIMED_OUT;
            if (why != CHILD_EXITED) {
                stopping = 1;
                stop_group(pid);
                kill_at = now + spec->kill_grace_ms;
            }
        }
        if (!exited && kill_at && now >= kill_at) {
            kill(-pid, SIGKILL);
            kill_at = 0;
        }
        if (!exited && has_exited(pid)) {
            kill(-pid, SIGKILL); /* the group's leftovers; pid is not reaped yet */
            if (reap(pid, &status) != 0)
                lost = errno;
            exited = 1;
            drain_until = now + DRAIN_MS;
        }
        if (exited && ((streams[0].fd < 0 && streams[1].fd < 0) || now >= drain_until))
            break;
        for (int i = 0; i < 2; i++)
            if (streams[i].fd >= 0) {
                pfd[n].fd = streams[i].fd;
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                n++;
            }
        {
            int64_t deadlines[3] = {stopping ? 0 : deadline, kill_at, drain_until};
            if (poll(pfd, (nfds_t)n, next_wait(now, deadlines, 3)) <= 0)
                continue;
        }
        for (int i = 0; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            for (int s = 0; s < 2; s++)
                if (streams[s].fd == pfd[i].fd)
                    stream_read(&streams[s], io);
        }
    }
    for (int s = 0; s < 2; s++)
        if (streams[s].fd >= 0) {
            line_ctx lc = {io, streams[s].name};
            linebuf_flush(&streams[s].lb, stream_line, &lc);
        }
    res->end = why;
    if (lost) {
        res->end = CHILD_SPAWN_FAILED; /* its status is unknown */
        res->err = lost;
        res->step = "waitpid";
    } else if (why == CHILD_EXITED && WIFSIGNALED(status)) {
        res->end = CHILD_SIGNALED;
        res->status = WTERMSIG(status);
    } else if (why == CHILD_EXITED) {
        res->status = WEXITSTATUS(status);
    }
}

void child_run(const child_spec *spec, const child_io *io, child_result *res)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1}, devnull = -1;
    stream streams[2];
    child_setup cs;
    spawn_failure f = {STEP_NONE, 0};
    pid_t pid;

    memset(res, 0, sizeof *res);
    memset(streams, 0, sizeof streams);
    if (make_pipe(out) != 0 || make_pipe(err) != 0 || make_pipe(report) != 0) {
        f.step = STEP_PIPE;
        f.err = errno;
        goto out;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        f.step = STEP_OPEN;
        f.err = errno;
        goto out;
    }
    memset(&cs, 0, sizeof cs);
    cs.spec = spec;
    cs.devnull = devnull;
    cs.out_w = out[1];
    cs.err_w = err[1];
    cs.report_w = report[1];
    cs.fd_scan_max = fd_scan_max();
    cs.dfl.sa_handler = SIG_DFL;
    sigemptyset(&cs.dfl.sa_mask);
    sigemptyset(&cs.empty);

    pid = fork();
    if (pid < 0) {
        f.step = STEP_FORK;
        f.err = errno;
        goto out;
    }
    if (pid == 0)
        child_exec(&cs);
    setpgid(pid, pid); /* also done by the child; whichever runs first wins the race */
    close(out[1]);
    close(err[1]);
    close(report[1]);
    out[1] = err[1] = report[1] = -1;
    if (read_report(report[0], &f)) {
        int ignored;
        reap(pid, &ignored);
        goto out;
    }
    f.step = STEP_NONE;
    streams[0].fd = out[0];
    streams[0].name = "stdout";
    streams[1].fd = err[0];
    streams[1].name = "stderr";
    out[0] = err[0] = -1;
    for (int i = 0; i < 2; i++)
        fcntl(streams[i].fd, F_SETFL, fcntl(streams[i].fd, F_GETFL) | O_NONBLOCK);
    supervise(pid, streams, spec, io, res);
    for (int i = 0; i < 2; i++)
        if (streams[i].fd >= 0)
            close(streams[i].fd);
out:
    if (f.step != STEP_NONE) {
        res->end = CHILD_SPAWN_FAILED;
        res->err = f.err;
        res->step = f.step > 0 && f.step <= STEP_EXECVE ? step_names[f.step] : "spawn";
    }
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
        if (report[i] >= 0)
            close(report[i]);
    }
    if (devnull >= 0)
        close(devnull);
}

void child_describe(const child_spec *spec, const child_result *res, char *buf, size_t size)
{
    switch (res->end) {
    case CHILD_EXITED:
        snprintf(buf, size, "exit status %d", res->status);
        return;
    case CHILD_SIGNALED:
        snprintf(buf, size, "killed by signal %d", res->status);
        return;
    case CHILD_TIMED_OUT:
        snprintf(buf, size, "timed out after %ld ms", spec->timeout_ms);
        return;
    case CHILD_CANCELED:
        snprintf(buf, size, "canceled");
        return;
    case CHILD_SPAWN_FAILED:
        if (strcmp(res->step, "chdir") == 0)
            snprintf(buf, size, "cannot run %s: directory %s: %s", spec->path,
                     spec->cwd ? spec->cwd : "/", strerror(res->err));
        else if (strcmp(res->step, "execve") == 0)
            snprintf(buf, size, "cannot run %s: %s", spec->path, strerror(res->err));
        else
            snprintf(buf, size, "cannot run %s: %s: %s", spec->path, res->step,
                     strerror(res->err));
        return;
    }
    snprintf(buf, size, "unknown outcome");
}
