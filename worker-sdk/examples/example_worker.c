/*
 * example_worker.c - a minimal jobcoord worker: it configures the SDK from a
 * file and/or name=value arguments, comes online, and sends heartbeats until
 * SIGTERM or SIGINT. Only the public API (jobcoord/jobcoord.h) is used.
 *
 *   jobcoord-example-worker [--config FILE] [name=value ...]
 *
 * e.g. jobcoord-example-worker principal=worker-1 key.id=k1 key.file=w1.key \
 *          bootstrap.file=jobcoord-kafka.bootstrap capabilities=echo,sleep slots=2
 *
 * Exit codes: 0 stopped by signal, 100 usage or configuration error,
 * 111 system error.
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

static void usage(FILE *out)
{
    fprintf(out, "usage: jobcoord-example-worker [--config FILE] [name=value ...]\n"
                 "Keys: principal, key.id, key | key.file, bootstrap.file | "
                 "kafka.bootstrap.servers,\n"
                 "      capabilities, slots, heartbeat.interval.ms, version, host, "
                 "topic.prefix, kafka.*\n"
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
    jc_worker_stop(w, 5000);
    printf("worker stopping: %llu heartbeats delivered\n",
           (unsigned long long)jc_worker_heartbeats_sent(w));
    jc_worker_destroy(w);
    return 0;
}
