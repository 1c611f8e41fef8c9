/*
 * example_submit.c - a minimal jobcoord client: it submits one job, waits
 * for its outcome from the coordinator's job updates, and prints it. Only
 * the public API (jobcoord/jobcoord.h) is used.
 *
 *   jobcoord-example-submit [--config FILE] [--opt name=value ...]
 *                           [--wait MS] [name=value ...] TYPE [PAYLOAD]
 *   jobcoord-example-submit --help | --version
 *
 * e.g. jobcoord-example-submit principal=client-1 key.id=k1 key.file=c1.key \
 *          bootstrap.file=jobcoord-kafka.bootstrap --opt priority=10 sleep 2000
 *
 * --opt sets a submit option (priority, max_attempts, delay_ms, run_at_ms,
 * timeout_ms, idempotency_key); --wait is how long to wait for the outcome
 * (default 60000; 0: submit only).
 *
 * Exit codes: 0 the job succeeded (or, with --wait 0, was submitted), 1 it
 * failed or was canceled, 2 no outcome within --wait, 100 usage or
 * configuration error, 111 system error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jobcoord/jobcoord.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jobcoord-example-submit [--config FILE] [--opt name=value ...] [--wait MS]\n"
            "                               [name=value ...] TYPE [PAYLOAD]\n"
            "       jobcoord-example-submit --help | --version\n"
            "Keys: principal, key.id, key | key.file, bootstrap.file | "
            "kafka.bootstrap.servers, topic.prefix, kafka.*\n"
            "Options: priority, max_attempts, delay_ms, run_at_ms, timeout_ms, "
            "idempotency_key\n"
            "Exit codes: 0 succeeded, 1 failed or canceled, 2 no outcome in time, 100 usage or\n"
            "configuration error, 111 system error.\n");
}

// set_pair applies "name=value" to the submit options (is_opt) or the
// configuration; 0, or -1 with a message on stderr.
static int set_pair(char *arg, int is_opt, jc_conf_t *conf, jc_submit_opts_t *opts)
{
    char errstr[512], *eq = strchr(arg, '=');
    jc_err_t err;

    if (!eq) {
        usage(stderr);
        return -1;
    }
    *eq = '\0';
    err = is_opt ? jc_submit_opts_set(opts, arg, eq + 1, errstr, sizeof errstr)
                 : jc_conf_set(conf, arg, eq + 1, errstr, sizeof errstr);
    if (err) {
        fprintf(stderr, "jobcoord-example-submit: %s\n", errstr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char errstr[512], job_id[37], state[16], error[4097];
    jc_conf_t *conf = jc_conf_new();
    jc_submit_opts_t *opts = jc_submit_opts_new();
    jc_client_t *c = NULL;
    const char *type = NULL, *payload = "";
    void *result = NULL;
    size_t result_len = 0;
    int wait_ms = 60000, rc = 100;
    jc_err_t err;

    if (!conf || !opts) {
        rc = 111;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            rc = 0;
            goto out;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("jobcoord-example-submit %s\n", jc_version());
            rc = 0;
            goto out;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            if (jc_conf_load_file(conf, argv[++i], errstr, sizeof errstr) != JC_OK) {
                fprintf(stderr, "jobcoord-example-submit: %s\n", errstr);
                goto out;
            }
        } else if (strcmp(argv[i], "--opt") == 0 && i + 1 < argc) {
            if (set_pair(argv[++i], 1, conf, opts) != 0)
                goto out;
        } else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
            wait_ms = atoi(argv[++i]);
        } else if (!type && strchr(argv[i], '=')) {
            if (set_pair(argv[i], 0, conf, opts) != 0)
                goto out;
        } else if (!type) {
            type = argv[i];
        } else if (i == argc - 1) {
            payload = argv[i];
        } else {
            usage(stderr);
            goto out;
        }
    }
    if (!type || wait_ms < 0) {
        usage(stderr);
        goto out;
    }
    c = jc_client_new(conf, errstr, sizeof errstr);
    if (!c) {
        fprintf(stderr, "jobcoord-example-submit: %s\n", errstr);
        rc = 111;
        goto out;
    }
    conf = NULL; /* the client's now */
    err = jc_client_submit(c, type, payload, strlen(payload), opts, job_id, 10000, errstr,
                           sizeof errstr);
    if (err) {
        fprintf(stderr, "jobcoord-example-submit: %s\n", errstr);
        rc = err == JC_ERR_INVALID_ARG || err == JC_ERR_TOO_LARGE ? 100 : 111;
        goto out;
    }
    printf("job %s submitted\n", job_id);
    rc = 0;
    if (wait_ms == 0)
        goto out;
    err = jc_client_wait(c, job_id, wait_ms, state, &result, &result_len, error, sizeof error);
    if (err == JC_ERR_TIMED_OUT) {
        printf("job %s: no outcome within %d ms\n", job_id, wait_ms);
        rc = 2;
        goto out;
    }
    if (err) {
        fprintf(stderr, "jobcoord-example-submit: %s\n", jc_err2str(err));
        rc = 111;
        goto out;
    }
    printf("job %s %s", job_id, state);
    if (error[0])
        printf(": %s", error);
    if (result_len > 0) {
        printf("\nresult: ");
        fwrite(result, 1, result_len, stdout);
    }
    printf("\n");
    rc = strcmp(state, "succeeded") == 0 ? 0 : 1;
out:
    jc_free(result);
    jc_client_destroy(c);
    jc_submit_opts_destroy(opts);
    jc_conf_destroy(conf);
    return rc;
}
