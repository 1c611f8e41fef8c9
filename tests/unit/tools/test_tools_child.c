/* test_tools_child: running programs for jobcoord-worker: output, exit
 * status, signals, timeout, cancellation (SIGTERM then SIGKILL), the
 * process group's leftovers, spawn failures, a clean environment and
 * descriptor table, and no zombies. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "child.h"

#define MAX_LINES 64

typedef struct capture {
    char out[MAX_LINES][256];
    char err[MAX_LINES][256];
    int n_out, n_err;
    char raw[4096];
    size_t raw_len;
    int64_t cancel_at; /* monotonic ms; 0: never */
} capture;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_line(const char *stream, const char *line, void *arg)
{
    capture *c = arg;
    if (strcmp(stream, "stdout") == 0 && c->n_out < MAX_LINES)
        snprintf(c->out[c->n_out++], sizeof c->out[0], "%s", line);
    else if (strcmp(stream, "stderr") == 0 && c->n_err < MAX_LINES)
        snprintf(c->err[c->n_err++], sizeof c->err[0], "%s", line);
}

static void on_stdout(const char *data, size_t n, void *arg)
{
    capture *c = arg;
    if (c->raw_len + n <= sizeof c->raw) {
        memcpy(c->raw + c->raw_len, data, n);
        c->raw_len += n;
    }
}

static int canceled(void *arg)
{
    const capture *c = arg;
    return c->cancel_at && now_ms() >= c->cancel_at;
}

static char *env_none[] = {NULL};

// run runs argv[0] with argv and returns the result; c gets the output.
static child_result run(char **argv, const char *cwd, long timeout_ms, long grace_ms, capture *c)
{
    child_spec spec = {argv[0], argv, env_none, cwd, timeout_ms, grace_ms};
    child_io io = {on_line, on_stdout, canceled, c};
    child_result res;

    child_run(&spec, &io, &res);
    return res;
}

static void describe(char **argv, long timeout_ms, const child_result *res, char *buf,
                     size_t size)
{
    child_spec spec = {argv[0], argv, env_none, NULL, timeout_ms, 0};
    child_describe(&spec, res, buf, size);
}

static void test_exit(void)
{
    capture *c = calloc(1, sizeof *c);
    char *echo[] = {"/bin/echo", "hello", "world", NULL};
    char *sh[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    char *kill9[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
    char text[256];
    child_result r;

    r = run(echo, NULL, 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_EXITED);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(c->n_out, 1);
    CHECK_EQ_STR(c->out[0], "hello world");
    CHECK(c->raw_len == 12 && memcmp(c->raw, "hello world\n", 12) == 0);

    memset(c, 0, sizeof *c);
    r = run(sh, NULL, 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_EXITED);
    CHECK_EQ_INT(r.status, 3);
    CHECK_EQ_STR(c->out[0], "out");
    CHECK_EQ_INT(c->n_err, 1);
    CHECK_EQ_STR(c->err[0], "err");
    describe(sh, 0, &r, text, sizeof text);
    CHECK_EQ_STR(text, "exit status 3");

    memset(c, 0, sizeof *c);
    r = run(kill9, NULL, 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_SIGNALED);
    CHECK_EQ_INT(r.status, 9);
    describe(kill9, 0, &r, text, sizeof text);
    CHECK_EQ_STR(text, "killed by signal 9");
    free(c);
}

static void test_stop(void)
{
    capture *c = calloc(1, sizeof *c);
    char *sleep10[] = {"/bin/sleep", "10", NULL};
    char *stubborn[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 10", NULL};
    char text[256];
    child_result r;
    int64_t t0;
    sigset_t term, old;

    t0 = now_ms();
    r = run(sleep10, NULL, 300, 5000, c);
    CHECK_EQ_INT(r.end, CHILD_TIMED_OUT);
    CHECK(now_ms() - t0 >= 300 && now_ms() - t0 < 2000);
    describe(sleep10, 300, &r, text, sizeof text);
    CHECK_EQ_STR(text, "timed out after 300 ms");

    /* a blocked SIGTERM in the worker's thread must not reach the program */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    memset(c, 0, sizeof *c);
    t0 = now_ms();
    c->cancel_at = t0 + 200;
    r = run(sleep10, NULL, 0, 5000, c);
    CHECK_EQ_INT(r.end, CHILD_CANCELED);
    CHECK_MSG(now_ms() - t0 < 2000, "cancel took %lld ms", (long long)(now_ms() - t0));
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    /* SIGTERM ignored: SIGKILL after the grace period */
    memset(c, 0, sizeof *c);
    t0 = now_ms();
    c->cancel_at = t0 + 300;
    r = run(stubborn, NULL, 0, 400, c);
    CHECK_EQ_INT(r.end, CHILD_CANCELED);
    CHECK_MSG(now_ms() - t0 >= 650 && now_ms() - t0 < 3000, "took %lld ms",
              (long long)(now_ms() - t0));
    CHECK_EQ_STR(c->out[0], "ready");
    free(c);
}

// gone says whether pid no longer runs (absent, or a zombie not ours).
static int gone(long pid)
{
    char path[64], buf[512];
    FILE *f;
    char *p;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!p)
        return 1;
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void test_leftovers(void)
{
    capture *c = calloc(1, sizeof *c);
    char *bg[] = {"/bin/sh", "-c", "sleep 30 & echo $!", NULL};
    child_result r;
    int64_t t0 = now_ms();
    long pid;
    int i;

    r = run(bg, NULL, 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_EXITED);
    CHECK_MSG(now_ms() - t0 < 2500, "took %lld ms", (long long)(now_ms() - t0));
    CHECK_EQ_INT(c->n_out, 1);
    pid = atol(c->out[0]);
    CHECK(pid > 0);
    for (i = 0; i < 50 && !gone(pid); i++)
        usleep(20000);
    CHECK_MSG(gone(pid), "background process %ld of the job still runs", pid);
    free(c);
}

static void test_spawn_failures(void)
{
    capture *c = calloc(1, sizeof *c);
    char *missing[] = {"/nonexistent/prog", NULL};
    char *pwd[] = {"/bin/pwd", NULL};
    char text[256];
    child_result r;

    r = run(missing, NULL, 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_SPAWN_FAILED);
    CHECK_EQ_STR(r.step, "execve");
    CHECK_EQ_INT(r.err, ENOENT);
    describe(missing, 0, &r, text, sizeof text);
    CHECK_EQ_STR(text, "cannot run /nonexistent/prog: No such file or directory");

    r = run(pwd, "/nonexistent", 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_SPAWN_FAILED);
    CHECK_EQ_STR(r.step, "chdir");

    memset(c, 0, sizeof *c);
    r = run(pwd, "/tmp", 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_EXITED);
    CHECK_EQ_STR(c->out[0], "/tmp");
    memset(c, 0, sizeof *c);
    r = run(pwd, NULL, 0, 1000, c);
    CHECK_EQ_STR(c->out[0], "/");
    free(c);
}

static void test_clean_process(void)
{
    capture *c = calloc(1, sizeof *c);
    char *env[] = {"/usr/bin/env", NULL};
    char *cat[] = {"/bin/cat", NULL};
    char *fds[] = {"/bin/ls", "/proc/self/fd", NULL};
    char *status[] = {"/bin/cat", "/proc/self/status", NULL};
    char *with_env[] = {"A=1", "B=two words", NULL};
    child_spec spec = {env[0], env, with_env, NULL, 0, 1000};
    child_io io = {on_line, on_stdout, canceled, c};
    child_result r;
    struct sigaction ign, old_pipe;
    char leaked[16];
    int null_fd = open("/dev/null", O_RDONLY);
    int extra = dup2(null_fd, 50); /* not close-on-exec */

    close(null_fd);
    child_run(&spec, &io, &r);
    CHECK_EQ_INT(c->n_out, 2);
    CHECK_EQ_STR(c->out[0], "A=1");
    CHECK_EQ_STR(c->out[1], "B=two words");

    memset(c, 0, sizeof *c);
    r = run(cat, NULL, 2000, 1000, c); /* stdin is /dev/null: cat ends at once */
    CHECK_EQ_INT(r.end, CHILD_EXITED);
    CHECK_EQ_INT(c->n_out, 0);

    memset(c, 0, sizeof *c);
    r = run(fds, NULL, 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_EXITED);
    snprintf(leaked, sizeof leaked, "%d", extra);
    CHECK_MSG(c->n_out <= 4, "%d descriptors open in the program", c->n_out);
    for (int i = 0; i < c->n_out; i++)
        CHECK_MSG(strcmp(c->out[i], leaked) != 0, "descriptor %s leaked", leaked);
    close(extra);

    /* an ignored SIGPIPE in the worker is not inherited */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);
    memset(c, 0, sizeof *c);
    r = run(status, NULL, 0, 1000, c);
    CHECK_EQ_INT(r.end, CHILD_EXITED);
    for (int i = 0; i < c->n_out; i++) {
        if (strncmp(c->out[i], "SigIgn:", 7) == 0)
            CHECK_EQ_STR(c->out[i], "SigIgn:\t0000000000000000");
        if (strncmp(c->out[i], "SigBlk:", 7) == 0)
            CHECK_EQ_STR(c->out[i], "SigBlk:\t0000000000000000");
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
    free(c);
}

static void *run_thread(void *arg)
{
    long n = (long)(intptr_t)arg;
    char num[16];
    char *sh[] = {"/bin/sh", "-c", "for i in 1 2 3; do echo $1; done; exit $1", "sh", num, NULL};
    capture *c = calloc(1, sizeof *c);
    child_result r;
    int ok;

    snprintf(num, sizeof num, "%ld", n);
    r = run(sh, NULL, 0, 1000, c);
    ok = r.end == CHILD_EXITED && r.status == n && c->n_out == 3 &&
         strcmp(c->out[2], num) == 0 && c->n_err == 0;
    free(c);
    return (void *)(intptr_t)ok;
}

static void test_threads(void)
{
    pthread_t th[8];
    void *ok;

    for (long i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, run_thread, (void *)(intptr_t)(i + 1));
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], &ok);
        CHECK_MSG(ok != NULL, "thread %d saw another run's output or status", i);
    }
}

int main(void)
{
    int status;

    test_exit();
    test_stop();
    test_leftovers();
    test_spawn_failures();
    test_clean_process();
    test_threads();
    CHECK_MSG(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD, "a child was left behind");
    return check_done("test_tools_child");
}
