/*
 * jobcoord_worker.c - jobcoord-worker, a generic worker: it runs the
 * programs its configuration file allows, one per job type, with the job's
 * payload as extra arguments. Only the public SDK API is used.
 *
 *   jobcoord-worker --config FILE [--grace-ms N] [--check]
 *
 * The configuration file holds the SDK's keys (principal, key.id, ...)
 * and "job.<type>.<field>" keys (jobtype.c); the SDK gets only its own. Each
 * configured type gets a handler, and so becomes one of the worker's
 * capabilities; the coordinator assigns no other type to it. A handler
 * runs the program (child.c) on the SDK's pool thread that called it, so
 * that thread is the only one that ever waits for a program: the SDK's
 * Kafka and command threads are never blocked by a job.
 *
 * Signals: SIGTERM or SIGINT starts jc_worker_shutdown(--grace-ms):
 * running programs may finish within the grace period, after which the
 * SDK cancels them (SIGTERM to the group, SIGKILL after kill_grace_ms).
 * SIGHUP re-reads key.file at once (jc_worker_reload_key; the SDK also
 * looks at it every key.reload.ms), so a rotated key is taken up without
 * waiting and without a restart.
 *
 * Exit codes: 0 stopped by a signal (or --check passed), 100 usage or
 * invalid configuration, 111 system error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>

#include "capture.h"
#include "child.h"
#include "jobtype.h"

#define EXIT_USAGE 100
#define EXIT_SYSTEM 111
#define DEFAULT_GRACE_MS 30000
#define LOG_RETRY_MS 20    /* wait between tries of a log line the SDK queue refused */
#define LOG_RETRIES 50

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jobcoord-worker --config FILE [--grace-ms N] [--check]\n"
            "Runs the programs FILE allows for each job type, with the payload's\n"
            "NUL-separated arguments after the configured ones (never through a shell).\n"
            "\n"
            "  --config FILE   the SDK's keys (principal, key.id, key.file, bootstrap.file,\n"
            "                  slots, ...) and job.<type>.<field> keys; see docs/tools.md\n"
            "  --grace-ms N    on SIGTERM/SIGINT, let running jobs finish for N ms before\n"
            "                  they are canceled and handed back (default %d)\n"
            "  --check         validate the configuration, print the job types, exit\n"
            "  --help, --version\n"
            "\n"
            "Exit codes: 0 stopped by a signal (or --check passed), 100 usage or invalid\n"
            "configuration, 111 system error (cannot read the file, cannot start).\n",
            DEFAULT_GRACE_MS);
}

/* One run's state, shared by the handler and child.c's callbacks. */
typedef struct run {
    jc_job_t *job;
    const jobtype *type;
    tailbuf result;
    long lines_left;
    long lines_dropped;
} run;

// run_line reports one line of output as a log event, within the type's
// budget. When the SDK's queue is full the handler thread waits a little:
// the program then blocks on its pipe, which is the backpressure wanted.
static void run_line(const char *stream, const char *line, void *arg)
{
    run *r = arg;
    jc_err_t err;

    if (r->lines_left <= 0) {
        r->lines_dropped++;
        return;
    }
    r->lines_left--;
    for (int i = 0; i < LOG_RETRIES; i++) {
        err = jc_job_log(r->job, stream, line);
        if (err != JC_ERR_QUEUE_FULL)
            break;
        usleep(LOG_RETRY_MS * 1000);
    }
    if (err != JC_OK)
        r->lines_dropped++;
}

static void run_stdout(const char *data, size_t n, void *arg)
{
    run *r = arg;

    tailbuf_add(&r->result, data, n);
}

static int run_canceled(void *arg)
{
    const run *r = arg;

    return jc_job_canceled(r->job);
}

// run_job is the handler of every configured type: it turns the payload
// into argv, runs the program and ends the job from its outcome.
static void run_job(jc_job_t *job, void *opaque)
{
    const jobtype *t = opaque;
    run r = {job, t, {0}, t->max_log_lines, 0};
    child_io io = {run_line, run_stdout, run_canceled, &r};
    child_spec spec;
    child_result res;
    char err[512], note[128];
    char **argv = NULL, **envp = NULL, *result = NULL;
    const void *payload;
    size_t len, result_len;
    int bad_payload;

    payload = jc_job_payload(job, &len);
    argv = jobtype_argv(t, payload, len, &bad_payload, err, sizeof err);
    if (!argv) {
        jc_job_fail(job, !bad_payload, bad_payload ? err : "out of memory");
        goto out;
    }
    envp = jobtype_envp(t, jc_job_id(job), jc_job_attempt(job));
    if (!envp || tailbuf_init(&r.result, (size_t)t->result_bytes) != 0) {
        jc_job_fail(job, 1, "out of memory");
        goto out;
    }
    spec.path = t->command;
    spec.argv = argv;
    spec.envp = envp;
    spec.cwd = t->cwd;
    spec.timeout_ms = t->timeout_ms;
    spec.kill_grace_ms = t->kill_grace_ms;
    child_run(&spec, &io, &res);
    if (r.lines_dropped > 0) {
        snprintf(note, sizeof note, "jobcoord-worker: %ld more line%s not reported",
                 r.lines_dropped, r.lines_dropped == 1 ? "" : "s");
        jc_job_log(job, "stderr", note);
    }
    child_describe(&spec, &res, err, sizeof err);
    switch (res.end) {
    case CHILD_EXITED:
        if (res.status == 0) {
            result = tailbuf_take(&r.result, &result_len);
            jc_job_succeed(job, result, result ? result_len : 0);
        } else {
            jc_job_fail(job, jobtype_retry_code(t, res.status), err);
        }
        break;
    case CHILD_SIGNALED:
        jc_job_fail(job, 0, err);
        break;
    case CHILD_TIMED_OUT:
    case CHILD_SPAWN_FAILED:
        /* the job may well succeed on another try or another worker */
        jc_job_fail(job, 1, err);
        break;
    case CHILD_CANCELED:
        break; /* returning without a result: the SDK reports it canceled */
    }
out:
    free(result);
    tailbuf_free(&r.result);
    free(envp);
    free(argv);
}

// sdk_set applies one SDK key from the file to the worker's conf.
// "capabilities" is refused: the job.* sections are the allow-list.
static int sdk_set(const char *name, const char *value, void *arg, char *err, size_t err_size)
{
    if (strcmp(name, "capabilities") == 0) {
        snprintf(err, err_size, "capabilities is not set by hand here: each "
                                "job.<type>.command adds its type");
        return -1;
    }
    return jc_conf_set(arg, name, value, err, err_size) == JC_OK ? 0 : -1;
}

// parse_grace reads --grace-ms.
static int parse_grace(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 3600000)
        return -1;
    *out = (int)v;
    return 0;
}

// ensure_std_fds opens /dev/null on any of 0, 1, 2 that is closed, so a
// pipe never lands there (child.c relies on it).
static int ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        if (open("/dev/null", O_RDWR) != fd)
            return -1;
    }
    return 0;
}

// print_types describes the allow-list (--check).
static void print_types(const jobtypes *jt)
{
    for (int i = 0; i < jt->n; i++) {
        const jobtype *t = &jt->t[i];
        printf("%s: %s", t->name, t->command);
        for (int a = 0; a < t->n_args; a++)
            printf(" [%s]", t->args[a]);
        printf(" + up to %d payload argument%s", t->max_args, t->max_args == 1 ? "" : "s");
        if (t->timeout_ms)
            printf(", timeout %ld ms", t->timeout_ms);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int grace_ms = DEFAULT_GRACE_MS, check = 0, rc = EXIT_SYSTEM, lrc;
    char err[1024];
    jobtypes *jt = NULL;
    jc_conf_t *conf = NULL;
    jc_worker_t *w = NULL;
    struct sigaction sa;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("jobcoord-worker %s (libjobcoord %s)\n", JC_VERSION_STR, jc_version());
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--grace-ms") == 0 && i + 1 < argc) {
            if (parse_grace(argv[++i], &grace_ms) != 0) {
                fprintf(stderr, "jobcoord-worker: --grace-ms wants 0..3600000, not '%s'\n",
                        argv[i]);
                return EXIT_USAGE;
            }
        } else if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else {
            fprintf(stderr, "jobcoord-worker: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!config) {
        fprintf(stderr, "jobcoord-worker: --config FILE is required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (ensure_std_fds() != 0)
        return EXIT_SYSTEM;

    jt = calloc(1, sizeof *jt);
    conf = jc_conf_new();
    if (!jt || !conf) {
        fprintf(stderr, "jobcoord-worker: out of memory\n");
        goto out;
    }
    lrc = jobtypes_load_file(jt, config, sdk_set, conf, err, sizeof err);
    if (lrc == 0 && jobtypes_check(jt, err, sizeof err) != 0)
        lrc = -2;
    if (lrc != 0) {
        fprintf(stderr, "jobcoord-worker: %s\n", err);
        rc = lrc == -1 ? EXIT_SYSTEM : EXIT_USAGE;
        goto out;
    }
    if (check) {
        print_types(jt);
        rc = 0;
        goto out;
    }

    w = jc_worker_new(conf, err, sizeof err);
    if (!w) {
        fprintf(stderr, "jobcoord-worker: %s\n", err);
        rc = EXIT_USAGE;
        goto out;
    }
    conf = NULL; /* the worker owns it */
    for (int i = 0; i < jt->n; i++) {
        jc_err_t e = jc_worker_handle(w, jt->t[i].name, run_job, &jt->t[i]);
        if (e != JC_OK) {
            fprintf(stderr, "jobcoord-worker: cannot handle %s: %s\n", jt->t[i].name,
                    jc_err2str(e));
            goto out;
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if (jc_worker_start(w, err, sizeof err) != JC_OK) {
        fprintf(stderr, "jobcoord-worker: %s\n", err);
        goto out;
    }
    fprintf(stderr, "jobcoord-worker: running %d job type%s (libjobcoord %s)\n", jt->n,
            jt->n == 1 ? "" : "s", jc_version());
    while (!stop_requested) {
        usleep(100000);
        if (reload_requested) {
            reload_requested = 0;
            if (jc_worker_reload_key(w, err, sizeof err) == JC_OK)
                fprintf(stderr, "jobcoord-worker: SIGHUP: key file read again\n");
            else
                fprintf(stderr,
                        "jobcoord-worker: SIGHUP: cannot read the key file: %s (the key"
                        " in use stays)\n",
                        err);
        }
    }
    fprintf(stderr, "jobcoord-worker: stopping (%d job%s running, grace %d ms)\n",
            jc_worker_jobs_running(w), jc_worker_jobs_running(w) == 1 ? "" : "s", grace_ms);
    jc_worker_shutdown(w, grace_ms);
    rc = 0;
out:
    jc_worker_destroy(w); /* waits for the handlers: before the types they use are freed */
    jc_conf_destroy(conf);
    if (jt)
        jobtypes_free(jt);
    free(jt);
    return rc;
}
