/*
 * jobcoord_submit.c - jobcoord-submit, the command-line client: submits
 * jobs (one from the options, or many from a file), optionally waits for
 * their outcome, and cancels jobs. Only the public SDK API is used.
 *
 *   jobcoord-submit --config FILE --type T [payload] [options] [--wait]
 *   jobcoord-submit --config FILE --file JOBS|- [options] [--wait]
 *   jobcoord-submit --config FILE --cancel JOB_ID [--reason R]
 *
 * The payload is bytes, taken as given (--payload, --payload-file,
 * --payload-stdin), or built from --arg values in the NUL-separated form
 * jobcoord-worker reads. Inputs are bounded by the protocol's 256 KiB
 * before anything is sent.
 *
 * The coordinator answers a request it refuses (PROTOCOL.md section 7.9):
 * --wait reports a refused submission, and --cancel waits for the answer to
 * the cancel (accepted, or refused with a reason).
 *
 * Exit codes: 0 done (with --wait: every job succeeded; --cancel: the
 * cancel was accepted), 1 a job failed or was canceled, 2 the wait timed
 * out (no answer), 3 the coordinator refused a submission or the cancel
 * (the reason is printed), 100 usage or invalid input or configuration,
 * 111 system error (file, Kafka).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jobcoord/jobcoord.h>

#include "capture.h"
#include "textout.h"
#include "submit.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// exit_of_err maps an SDK error to an exit code: the caller's input, or
// the system.
static int exit_of_err(jc_err_t e)
{
    switch (e) {
    case JC_ERR_INVALID_ARG:
    case JC_ERR_TOO_LARGE:
    case JC_ERR_SCHEMA:
    case JC_ERR_INVALID_CONF:
    case JC_ERR_UNKNOWN_CONF:
        return EXIT_USAGE;
    default:
        return EXIT_SYSTEM;
    }
}

// submit_one submits one job and, unless the outcome will be awaited,
// prints its id.
static int submit_one(jc_client_t *c, const options *o, const char *type, const payload *p,
                      char id[37])
{
    char err[512];
    jc_err_t e;

    e = jc_client_submit(c, type, p->data, p->len, o->opts, id, SUBMIT_TIMEOUT_MS, err,
                         sizeof err);
    if (e != JC_OK) {
        fprintf(stderr, "jobcoord-submit: cannot submit a %s job: %s\n", type, err);
        return exit_of_err(e);
    }
    if (o->wait)
        return 0; /* the outcome, printed later, names the job */
    if (o->json) {
        json_print("jobcoord-submit",
                   json_pack("{s:s,s:o}", "id", id, "type", json_text(type, strlen(type))));
    } else {
        printf("%s\n", id);
    }
    fflush(stdout);
    return 0;
}

// wait_one waits for id's final state until deadline (0: none), prints it
// and returns the exit code it stands for.
static int wait_one(jc_client_t *c, const options *o, const char *id, int64_t deadline)
{
    char state[16], error[ERROR_MAX];
    void *result = NULL;
    size_t result_len = 0;
    jc_err_t e;
    int rc;

    for (;;) {
        int64_t chunk = WAIT_CHUNK_MS;
        if (deadline) {
            chunk = deadline - now_ms();
            if (chunk < 0)
                chunk = 0;
            if (chunk > WAIT_CHUNK_MS)
                chunk = WAIT_CHUNK_MS;
        }
        error[0] = '\0';
        e = jc_client_wait(c, id, (int)chunk, state, &result, &result_len, error, sizeof error);
        if (e != JC_ERR_TIMED_OUT || (deadline && now_ms() >= deadline))
            break;
    }
    if (e == JC_ERR_TIMED_OUT) {
        outcome_print(o->json, id, NULL, NULL, 0, NULL, NULL);
        return EXIT_TIMED_OUT;
    }
    if (e == JC_ERR_REFUSED) {
        if (!o->json)
            fprintf(stderr, "jobcoord-submit: the coordinator refused job %s: %s\n", id, error);
        outcome_print(o->json, id, "refused", NULL, 0, error, NULL);
        return EXIT_REFUSED;
    }
    if (e != JC_OK) {
        fprintf(stderr, "jobcoord-submit: cannot wait for %s: %s\n", id, jc_err2str(e));
        return EXIT_SYSTEM;
    }
    {
        /* a repeated idempotency key is answered by the existing job: report
         * that job's id, which is the one the coordinator knows. The cancel
         * reason of a canceled job comes apart from its error from a
         * coordinator of protocol version 2 (none from version 1). */
        char actual[37], reason[ERROR_MAX] = "";
        jc_client_cancel_reason(c, id, reason, sizeof reason);
        if (jc_client_job_of(c, id, actual) == JC_OK && strcmp(actual, id) != 0) {
            if (!o->json)
                fprintf(stderr,
                        "jobcoord-submit: %s repeated the idempotency key of job %s; "
                        "that job's outcome follows\n",
                        id, actual);
            id = actual;
            outcome_print(o->json, id, state, result, result ? result_len : 0, error, reason);
        } else {
            outcome_print(o->json, id, state, result, result ? result_len : 0, error, reason);
        }
    }
    rc = strcmp(state, "succeeded") == 0 ? 0 : EXIT_FAILED;
    jc_free(result);
    return rc;
}

// worse combines exit codes: system and usage errors first, then a timed
// out wait, then a failed job.
static int worse(int a, int b)
{
    static const int order[] = {EXIT_SYSTEM, EXIT_USAGE, EXIT_REFUSED, EXIT_TIMED_OUT,
                                EXIT_FAILED, 0};

    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (a == order[i] || b == order[i])
            return order[i];
    return a;
}

// remember_id appends id to the growing list of jobs to wait for.
static int remember_id(char (**ids)[37], size_t *n, size_t *cap, const char id[37])
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        char(*nids)[37] = realloc(*ids, ncap * sizeof **ids);
        if (!nids)
            return -1;
        *ids = nids;
        *cap = ncap;
    }
    memcpy((*ids)[(*n)++], id, 37);
    return 0;
}

// submit_file submits the jobs of a file (one "TYPE<TAB>PAYLOAD" a line),
// then waits for them all if asked.
static int submit_file(jc_client_t *c, const options *o)
{
    size_t cap = TYPE_MAX + 1 + PAYLOAD_MAX + 3, n_ids = 0, ids_cap = 0;
    char *line = malloc(cap), (*ids)[37] = NULL, id[37];
    FILE *f = strcmp(o->file, "-") == 0 ? stdin : fopen(o->file, "rb");
    int rc = 0, lineno = 0;
    int64_t deadline;

    if (!line || !f) {
        fprintf(stderr, "jobcoord-submit: cannot open %s: %s\n", o->file, strerror(errno));
        rc = EXIT_SYSTEM;
        goto out;
    }
    while (fgets(line, (int)cap, f)) {
        size_t len = strlen(line);
        char *tab;
        payload p;

        lineno++;
        if (len == cap - 1 && line[len - 1] != '\n') {
            fprintf(stderr, "jobcoord-submit: %s:%d: line too long\n", o->file, lineno);
            rc = EXIT_USAGE;
            goto out;
        }
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        tab = strchr(line, '\t');
        p.data = tab ? tab + 1 : line + len;
        p.len = (size_t)(line + len - p.data);
        if (tab)
            *tab = '\0';
        if (o->wait && n_ids == MAX_WAITED) {
            fprintf(stderr, "jobcoord-submit: %s:%d: --wait follows at most %d jobs\n", o->file,
                    lineno, MAX_WAITED);
            rc = EXIT_USAGE;
            goto out;
        }
        rc = submit_one(c, o, line, &p, id);
        if (rc) {
            fprintf(stderr, "jobcoord-submit: stopped at %s:%d\n", o->file, lineno);
            goto out;
        }
        if (o->wait && remember_id(&ids, &n_ids, &ids_cap, id) != 0) {
            fprintf(stderr, "jobcoord-submit: out of memory\n");
            rc = EXIT_SYSTEM;
            goto out;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "jobcoord-submit: cannot read %s: %s\n", o->file, strerror(errno));
        rc = EXIT_SYSTEM;
        goto out;
    }
    deadline = o->wait_timeout_ms >= 0 ? now_ms() + o->wait_timeout_ms : 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (!o->json && i > 0)
            printf("\n");
        rc = worse(rc, wait_one(c, o, ids[i], deadline));
    }
out:
    if (f && f != stdin)
        fclose(f);
    free(ids);
    free(line);
    return rc;
}

// cancel_job sends a cancellation and waits for the coordinator's answer.
static int cancel_job(jc_client_t *c, const options *o)
{
    char err[512], state[16] = "", reason[ERROR_MAX] = "";
    jc_err_t e = jc_client_cancel(c, o->cancel, o->reason, SUBMIT_TIMEOUT_MS, err, sizeof err);
    int rc;

    if (e != JC_OK) {
        fprintf(stderr, "jobcoord-submit: cannot cancel %s: %s\n", o->cancel, err);
        return exit_of_err(e);
    }
    e = jc_client_cancel_wait(c, o->cancel,
                              o->wait_timeout_ms >= 0 ? (int)o->wait_timeout_ms : CANCEL_WAIT_MS,
                              state, reason, sizeof reason);
    rc = e == JC_OK ? 0 : e == JC_ERR_REFUSED ? EXIT_REFUSED : EXIT_TIMED_OUT;
    if (o->json) {
        json_print("jobcoord-submit",
                   json_pack("{s:o,s:s,s:o,s:o}", "id", json_text(o->cancel, strlen(o->cancel)),
                             "cancel",
                             rc == 0              ? "accepted"
                             : rc == EXIT_REFUSED ? "refused"
                                                  : "no_answer",
                             "state", rc == 0 ? json_text(state, strlen(state)) : json_null(),
                             "reason",
                             rc == EXIT_REFUSED ? json_text(reason, strlen(reason)) : json_null()));
    } else if (rc == 0) {
        printf("cancel of %s accepted: the job is %s\n", o->cancel, state);
    } else if (rc == EXIT_REFUSED) {
        printf("cancel of %s refused: %s\n", o->cancel, reason);
        fprintf(stderr, "jobcoord-submit: the coordinator refused the cancel of %s: %s\n",
                o->cancel, reason);
    } else {
        printf("cancel of %s sent; no answer from the coordinator\n", o->cancel);
        fprintf(stderr, "jobcoord-submit: no answer to the cancel of %s in time\n", o->cancel);
    }
    fflush(stdout);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    payload p = {NULL, 0};
    jc_conf_t *conf = NULL;
    jc_client_t *c = NULL;
    char err[1024], id[37];
    jc_err_t e;
    int rc;

    memset(&o, 0, sizeof o);
    o.wait_timeout_ms = -1;
    o.opts = jc_submit_opts_new();
    conf = jc_conf_new();
    if (!o.opts || !conf) {
        fprintf(stderr, "jobcoord-submit: out of memory\n");
        rc = EXIT_SYSTEM;
        goto out;
    }
    rc = submit_parse_args(argc, argv, &o);
    if (rc) {
        if (rc == EXIT_USAGE)
            fprintf(stderr, "Try 'jobcoord-submit --help'.\n");
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    if (o.type) {
        rc = submit_build_payload(&o, &p, err, sizeof err);
        if (rc) {
            fprintf(stderr, "jobcoord-submit: %s\n", err);
            goto out;
        }
    }
    e = jc_conf_load_file(conf, o.config, err, sizeof err);
    if (e != JC_OK) {
        fprintf(stderr, "jobcoord-submit: %s\n", err);
        rc = e == JC_ERR_IO ? EXIT_SYSTEM : EXIT_USAGE;
        goto out;
    }
    c = jc_client_new(conf, err, sizeof err);
    if (!c) {
        fprintf(stderr, "jobcoord-submit: %s\n", err);
        rc = EXIT_USAGE;
        goto out;
    }
    conf = NULL; /* the client owns it */
    if (o.cancel) {
        rc = cancel_job(c, &o);
    } else if (o.file) {
        rc = submit_file(c, &o);
    } else {
        rc = submit_one(c, &o, o.type, &p, id);
        if (rc == 0 && o.wait)
            rc = wait_one(c, &o, id,
                          o.wait_timeout_ms >= 0 ? now_ms() + o.wait_timeout_ms : 0);
    }
out:
    jc_client_destroy(c);
    jc_conf_destroy(conf);
    jc_submit_opts_destroy(o.opts);
    free(p.data);
    return rc;
}
