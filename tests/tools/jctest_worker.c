/*
 * jctest_worker.c - the test suite's worker, built on the public SDK API
 * only. Handlers by job type:
 *   ok     succeeds; the result is the payload
 *   flaky  fails (retryable) on attempt 1, succeeds after
 *   fail   fails, not retryable, error "permanent failure"
 *   hang   reports nothing until canceled (for timeouts and cancels)
 *   sleep  sleeps the payload's milliseconds (decimal text) in 50 ms steps,
 *          reporting progress and honouring cancellation
 *
 *   jctest-worker name=value ...   (SDK keys; capabilities come from the handlers)
 * Runs until SIGTERM (graceful shutdown, 3 s grace) or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void h_ok(jc_job_t *job, void *opaque)
{
    size_t len = 0;
    const void *p = jc_job_payload(job, &len);
    (void)opaque;
    jc_job_log(job, "stdout", "ok handler ran");
    jc_job_succeed(job, p, len);
}

static void h_flaky(jc_job_t *job, void *opaque)
{
    (void)opaque;
    if (jc_job_attempt(job) == 1)
        jc_job_fail(job, 1, "flaky: first attempt fails");
    else
        jc_job_succeed(job, "recovered", 9);
}

static void h_fail(jc_job_t *job, void *opaque)
{
    (void)opaque;
    jc_job_fail(job, 0, "permanent failure");
}

static void h_hang(jc_job_t *job, void *opaque)
{
    (void)opaque;
    while (!jc_job_canceled(job))
        usleep(20000);
}

static void h_sleep(jc_job_t *job, void *opaque)
{
    size_t len = 0;
    const char *p = jc_job_payload(job, &len);
    char text[32] = "";
    long ms, done = 0;
    (void)opaque;
    if (len < sizeof text)
        memcpy(text, p, len);
    ms = atol(text);
    while (done < ms && !jc_job_canceled(job)) {
        usleep(50000);
        done += 50;
        jc_job_progress(job, (int)(done * 100 / (ms ? ms : 1)));
    }
    if (!jc_job_canceled(job))
        jc_job_succeed(job, "slept", 5);
}

int main(int argc, char **argv)
{
    char err[512];
    jc_conf_t *conf = jc_conf_new();
    jc_worker_t *w;
    static const struct {
        const char *type;
        jc_job_handler_fn fn;
    } handlers[] = {{"ok", h_ok}, {"flaky", h_flaky}, {"fail", h_fail}, {"hang", h_hang},
                    {"sleep", h_sleep}};

    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "usage: jctest-worker name=value ...\n");
            return 100;
        }
        *eq = '\0';
        if (jc_conf_set(conf, argv[i], eq + 1, err, sizeof err) != JC_OK) {
            fprintf(stderr, "jctest-worker: %s\n", err);
            return 100;
        }
    }
    w = jc_worker_new(conf, err, sizeof err);
    if (!w) {
        fprintf(stderr, "jctest-worker: %s\n", err);
        jc_conf_destroy(conf);
        return 100;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        jc_worker_handle(w, handlers[i].type, handlers[i].fn, NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (jc_worker_start(w, err, sizeof err) != JC_OK) {
        fprintf(stderr, "jctest-worker: %s\n", err);
        jc_worker_destroy(w);
        return 111;
    }
    while (!stop_requested)
        usleep(50000);
    jc_worker_shutdown(w, 3000);
    jc_worker_destroy(w);
    return 0;
}
