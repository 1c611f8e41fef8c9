/*
 * example_worker.c - a minimal jobcoord worker: it configures the SDK from a
 * file and/or name=value arguments, registers three job types, comes
 * online, runs the jobs it is assigned, and on SIGTERM or SIGINT shuts down
 * gracefully (running jobs get --grace milliseconds to finish, then are
 * handed back to the coordinator). Only the public API
 * (jobcoord/jobcoord.h) is used.
 *
 *   jobcoord-example-worker [--config FILE] [--grace MS] [name=value ...]
 *
 * e.g. jobcoord-example-worker principal=worker-1 key.id=k1 key.file=w1.key \
 *          bootstrap.file=jobcoord-kafka.bootstrap slots=2
 *
 * Job types:
 *   echo   succeeds with its payload as the result
 *   sleep  payload: milliseconds as decimal text; sleeps in 50 ms steps,
 *          reporting progress, and stops when the job is canceled
 *   fail   fails; retryable if the payload is "retry"
 *
 * Exit codes: 0 stopped by signal, 100 usage or configuration error,
 * 111 system error.
 */
#include <errno.h>
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

// handle_echo succeeds with the payload as the result.
static void handle_echo(jc_job_t *job, void *opaque)
{
    size_t len;
    const void *payload = jc_job_payload(job, &len);

    (void)opaque;
    jc_job_succeed(job, payload, len);
}

// handle_sleep sleeps for the payload's milliseconds in 50 ms steps,
// reporting progress, and returns early when the job is canceled (the SDK
// then reports it canceled).
static void handle_sleep(jc_job_t *job, void *opaque)
{
    const char *payload = jc_job_payload(job, NULL); /* NUL-terminated */
    char *end;
    long total_ms, slept_ms = 0;
    int last_pct = -1;

    (void)opaque;
    errno = 0;
    total_ms = strtol(payload, &end, 10);
    if (errno || end == payload || *end || total_ms < 0 || total_ms > 86400000L) {
        jc_job_fail(job, 0, "sleep: the payload must be milliseconds, 0..86400000");
        return;
    }
    while (slept_ms < total_ms && !jc_job_canceled(job)) {
        long step = total_ms - slept_ms < 50 ? total_ms - slept_ms : 50;
        int pct;
        usleep((useconds_t)step * 1000);
        slept_ms += step;
        pct = (int)(slept_ms * 100 / total_ms);
        if (pct / 10 != last_pct / 10) { /* every 10% */
            jc_job_progress(job, pct);
            last_pct = pct;
        }
    }
    if (!jc_job_canceled(job))
        jc_job_succeed(job, NULL, 0);
}

// handle_fail fails, asking for a retry if the payload is "retry".
static void handle_fail(jc_job_t *job, void *opaque)
{
    const char *payload = jc_job_payload(job, NULL);

    (void)opaque;
    jc_job_log(job, "stderr", "failing on request");
    jc_job_fail(job, strcmp(payload, "retry") == 0, "failed on request");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: jobcoord-example-worker [--config FILE] [--grace MS] [name=value ...]\n"
                 "Keys: principal, key.id, key | key.file, bootstrap.file | "
                 "kafka.bootstrap.servers,\n"
                 "      capabilities, slots, heartbeat.interval.ms, version, host, "
                 "topic.prefix, kafka.*\n"
                 "Job types: echo, sleep (payload: ms), fail (payload \"retry\": retryable).\n"
                 "--grace MS: how long running jobs may finish on SIGTERM (default 10000).\n"
                 "Exit codes: 0 stopped by signal, 100 usage or configuration error, "
                 "111 system error.\n");
}

int main(int argc, char **argv)
{
    char errstr[512];
    jc_conf_t *conf = jc_conf_new();
    jc_worker_t *w;
    struct sigaction sa;
    const char *principal;
    int grace_ms = 10000;

    if (!conf)
        return 111;
    for (int i = 1; i < argc; i++) {
        char *eq;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            jc_conf_destroy(conf);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("jobcoord-example-worker %s\n", jc_version());
            jc_conf_destroy(conf);
            return 0;
        }
        if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
            grace_ms = atoi(argv[++i]);
            if (grace_ms < 0) {
                usage(stderr);
                jc_conf_destroy(conf);
                return 100;
            }
            continue;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            if (jc_conf_load_file(conf, argv[++i], errstr, sizeof errstr) != JC_OK) {
                fprintf(stderr, "jobcoord-example-worker: %s\n", errstr);
                jc_conf_destroy(conf);
                return 100;
            }
            continue;
        }
        eq = strchr(argv[i], '=');
        if (!eq) {
            usage(stderr);
            jc_conf_destroy(conf);
            return 100;
        }
        *eq = '\0';
        if (jc_conf_set(conf, argv[i], eq + 1, errstr, sizeof errstr) != JC_OK) {
            fprintf(stderr, "jobcoord-example-worker: %s\n", errstr);
            jc_conf_destroy(conf);
            return 100;
        }
    }
    principal = jc_conf_get(conf, "principal");
    printf("worker %s starting (libjobcoord %s)\n", principal ? principal : "?", jc_version());

    w = jc_worker_new(conf, errstr, sizeof errstr);
    if (!w) {
        fprintf(stderr, "jobcoord-example-worker: %s\n", errstr);
        jc_conf_destroy(conf);
        return 100;
    }
    /* conf belongs to the worker now */
    if (jc_worker_handle(w, "echo", handle_echo, NULL) != JC_OK ||
        jc_worker_handle(w, "sleep", handle_sleep, NULL) != JC_OK ||
        jc_worker_handle(w, "fail", handle_fail, NULL) != JC_OK) {
        fprintf(stderr, "jobcoord-example-worker: cannot register the job types\n");
        jc_worker_destroy(w);
        return 111;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (jc_worker_start(w, errstr, sizeof errstr) != JC_OK) {
        fprintf(stderr, "jobcoord-example-worker: %s\n", errstr);
        jc_worker_destroy(w);
        return 111;
    }
    while (!stop_requested)
        usleep(100000);
    printf("worker stopping: %d job(s) running, %d ms to finish\n", jc_worker_jobs_running(w),
           grace_ms);
    jc_worker_shutdown(w, grace_ms);
    printf("worker stopped: %llu heartbeats delivered\n",
           (unsigned long long)jc_worker_heartbeats_sent(w));
    jc_worker_destroy(w);
    return 0;
}
