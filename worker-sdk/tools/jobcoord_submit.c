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

#define EXIT_FAILED 1
#define EXIT_TIMED_OUT 2
#define EXIT_REFUSED 3
#define EXIT_USAGE 100
#define EXIT_SYSTEM 111
#define PAYLOAD_MAX 262144      /* the protocol's limit */
#define TYPE_MAX 64
#define MAX_ARGS 4096
#define SUBMIT_TIMEOUT_MS 30000
#define CANCEL_WAIT_MS 30000     /* --cancel: default wait for the coordinator's answer */
#define WAIT_CHUNK_MS 60000     /* one jc_client_wait call when waiting without a limit */
#define ERROR_MAX 4097
#define MAX_WAITED 65536        /* the SDK keeps the outcomes of the last 65536 jobs */

/* The command line. */
typedef struct options {
    const char *config, *type, *payload, *payload_file, *file, *cancel, *reason;
    const char *args[MAX_ARGS];
    int n_args, payload_stdin, wait, json;
    long wait_timeout_ms; /* -1: none */
    jc_submit_opts_t *opts;
} options;

/* A payload in memory (at most PAYLOAD_MAX bytes). */
typedef struct payload {
    char *data;
    size_t len;
} payload;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: jobcoord-submit --config FILE --type T [PAYLOAD] [OPTIONS] [--wait]\n"
        "       jobcoord-submit --config FILE --file JOBS|- [OPTIONS] [--wait]\n"
        "       jobcoord-submit --config FILE --cancel JOB_ID [--reason R]\n"
        "\n"
        "PAYLOAD (default empty; at most 256 KiB):\n"
        "  --payload STRING       the bytes of STRING\n"
        "  --payload-file F       the bytes of file F\n"
        "  --payload-stdin        the bytes of standard input\n"
        "  --arg A                (repeatable) arguments for jobcoord-worker: each A\n"
        "                         followed by a NUL byte\n"
        "OPTIONS:\n"
        "  --priority N           higher runs first (default 0)\n"
        "  --max-attempts N       tries before the job fails for good\n"
        "  --delay-ms N           run no sooner than N ms from now\n"
        "  --run-at-ms N          run no sooner than N (Unix time, ms)\n"
        "  --timeout-ms N         the job's lease/time limit on the worker\n"
        "  --idempotency-key K    the same K from the same client makes one job\n"
        "  --job-id UUID          use this job id (default: a random one); the same id\n"
        "                         with the same content is answered with the job's state\n"
        "  --wait                 wait for the final state and print it with the\n"
        "                         result and error\n"
        "  --wait-timeout-ms N    give up waiting after N ms (default: wait forever;\n"
        "                         with --cancel: 30000)\n"
        "  --json                 one JSON object per line\n"
        "  --file JOBS            submit one job per line, 'TYPE<TAB>PAYLOAD' ('-': stdin;\n"
        "                         empty lines and lines starting with # are skipped)\n"
        "  --cancel JOB_ID        ask the coordinator to cancel a job and wait for its\n"
        "                         answer; --reason R says why\n"
        "  --help, --version\n"
        "\n"
        "Exit codes: 0 done (with --wait: succeeded; --cancel: accepted), 1 failed or\n"
        "canceled, 2 timed out waiting, 3 refused by the coordinator (reason printed),\n"
        "100 usage, invalid input or configuration, 111 system error.\n");
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// parse_int reads a whole decimal integer in [min, max].
static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

// read_bounded reads f into p, refusing more than PAYLOAD_MAX bytes:
// 0, 100 too large, 111 read error (err says why).
static int read_bounded(FILE *f, const char *what, payload *p, char *err, size_t err_size)
{
    p->data = malloc(PAYLOAD_MAX + 1);
    if (!p->data) {
        snprintf(err, err_size, "out of memory");
        return EXIT_SYSTEM;
    }
    p->len = fread(p->data, 1, PAYLOAD_MAX + 1, f);
    if (ferror(f)) {
        snprintf(err, err_size, "cannot read %s: %s", what, strerror(errno));
        return EXIT_SYSTEM;
    }
    if (p->len > PAYLOAD_MAX) {
        snprintf(err, err_size, "%s: payload larger than %d bytes", what, PAYLOAD_MAX);
        return EXIT_USAGE;
    }
    return 0;
}

// build_payload makes the single job's payload from the options.
static int build_payload(const options *o, payload *p, char *err, size_t err_size)
{
    FILE *f;
    int rc;

    memset(p, 0, sizeof *p);
    if (o->payload) {
        p->len = strlen(o->payload);
        if (p->len > PAYLOAD_MAX) {
            snprintf(err, err_size, "--payload: larger than %d bytes", PAYLOAD_MAX);
            return EXIT_USAGE;
        }
        p->data = strdup(o->payload);
        if (!p->data) {
            snprintf(err, err_size, "out of memory");
            return EXIT_SYSTEM;
        }
        return 0;
    }
    if (o->payload_stdin)
        return read_bounded(stdin, "standard input", p, err, err_size);
    if (o->payload_file) {
        f = fopen(o->payload_file, "rb");
        if (!f) {
            snprintf(err, err_size, "cannot open %s: %s", o->payload_file, strerror(errno));
            return EXIT_SYSTEM;
        }
        rc = read_bounded(f, o->payload_file, p, err, err_size);
        fclose(f);
        return rc;
    }
    for (int i = 0; i < o->n_args; i++)
        p->len += strlen(o->args[i]) + 1;
    if (p->len > PAYLOAD_MAX) {
        snprintf(err, err_size, "--arg: together larger than %d bytes", PAYLOAD_MAX);
        return EXIT_USAGE;
    }
    p->data = malloc(p->len + 1);
    if (!p->data) {
        snprintf(err, err_size, "out of memory");
        return EXIT_SYSTEM;
    }
    p->len = 0;
    for (int i = 0; i < o->n_args; i++) {
        size_t n = strlen(o->args[i]) + 1; /* with its NUL */
        memcpy(p->data + p->len, o->args[i], n);
        p->len += n;
    }
    return 0;
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
        printf("{\"id\":\"%s\",\"type\":", id);
        json_str(type, strlen(type));
        printf("}\n");
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

// set_opt passes a numeric option to the submission options, checked as
// an integer here (usage error) and for its range by the SDK.
static int set_opt(options *o, const char *flag, const char *name, const char *value)
{
    char err[256];
    long ignored;

    if (parse_int(value, LONG_MIN, LONG_MAX, &ignored) != 0) {
        fprintf(stderr, "jobcoord-submit: %s wants an integer, not '%s'\n", flag, value);
        return EXIT_USAGE;
    }
    if (jc_submit_opts_set(o->opts, name, value, err, sizeof err) != JC_OK) {
        fprintf(stderr, "jobcoord-submit: %s: %s\n", flag, err);
        return EXIT_USAGE;
    }
    return 0;
}

/* Options that take a value and go to jc_submit_opts_set. */
static const struct {
    const char *flag, *name;
} submit_flags[] = {
    {"--priority", "priority"},     {"--max-attempts", "max_attempts"},
    {"--delay-ms", "delay_ms"},     {"--run-at-ms", "run_at_ms"},
    {"--timeout-ms", "timeout_ms"},
};
#define N_SUBMIT_FLAGS (sizeof submit_flags / sizeof submit_flags[0])

// parse_args fills o from the command line: 0, -1 for --help/--version
// (done), or an exit code.
static int parse_args(int argc, char **argv, options *o)
{
    int n_payloads = 0, has_opts = 0, rc;
    char err[256];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t f;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("jobcoord-submit %s (libjobcoord %s)\n", JC_VERSION_STR, jc_version());
            return -1;
        }
        if (strcmp(a, "--wait") == 0) {
            o->wait = 1;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--payload-stdin") == 0) {
            o->payload_stdin = 1;
            n_payloads++;
            continue;
        }
        if (!v || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "jobcoord-submit: unknown or incomplete option '%s'\n", a);
            return EXIT_USAGE;
        }
        i++;
        for (f = 0; f < N_SUBMIT_FLAGS; f++)
            if (strcmp(a, submit_flags[f].flag) == 0)
                break;
        if (f < N_SUBMIT_FLAGS) {
            rc = set_opt(o, a, submit_flags[f].name, v);
            if (rc)
                return rc;
            has_opts = 1;
        } else if (strcmp(a, "--idempotency-key") == 0) {
            if (jc_submit_opts_set(o->opts, "idempotency_key", v, err, sizeof err) != JC_OK) {
                fprintf(stderr, "jobcoord-submit: %s: %s\n", a, err);
                return EXIT_USAGE;
            }
            has_opts = 2;
        } else if (strcmp(a, "--job-id") == 0) {
            if (jc_submit_opts_set(o->opts, "job_id", v, err, sizeof err) != JC_OK) {
                fprintf(stderr, "jobcoord-submit: %s: %s\n", a, err);
                return EXIT_USAGE;
            }
            has_opts = 2;
        } else if (strcmp(a, "--config") == 0) {
            o->config = v;
        } else if (strcmp(a, "--type") == 0) {
            o->type = v;
        } else if (strcmp(a, "--payload") == 0) {
            o->payload = v;
            n_payloads++;
        } else if (strcmp(a, "--payload-file") == 0) {
            o->payload_file = v;
            n_payloads++;
        } else if (strcmp(a, "--arg") == 0) {
            if (o->n_args == MAX_ARGS) {
                fprintf(stderr, "jobcoord-submit: more than %d --arg\n", MAX_ARGS);
                return EXIT_USAGE;
            }
            if (o->n_args == 0)
                n_payloads++;
            o->args[o->n_args++] = v;
        } else if (strcmp(a, "--wait-timeout-ms") == 0) {
            if (parse_int(v, 0, 2147483647L, &o->wait_timeout_ms) != 0) {
                fprintf(stderr, "jobcoord-submit: --wait-timeout-ms wants 0..2147483647\n");
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--file") == 0) {
            o->file = v;
        } else if (strcmp(a, "--cancel") == 0) {
            o->cancel = v;
        } else if (strcmp(a, "--reason") == 0) {
            o->reason = v;
        } else {
            fprintf(stderr, "jobcoord-submit: unknown option '%s'\n", a);
            return EXIT_USAGE;
        }
    }
    if (!o->config) {
        fprintf(stderr, "jobcoord-submit: --config FILE is required\n");
        return EXIT_USAGE;
    }
    if (!!o->type + !!o->file + !!o->cancel != 1) {
        fprintf(stderr, "jobcoord-submit: give exactly one of --type, --file and --cancel\n");
        return EXIT_USAGE;
    }
    if (n_payloads > 1 || (n_payloads && !o->type)) {
        fprintf(stderr, "jobcoord-submit: one payload option, with --type only\n");
        return EXIT_USAGE;
    }
    if (o->file && has_opts == 2) {
        fprintf(stderr,
                "jobcoord-submit: --idempotency-key and --job-id name one job: not with --file\n");
        return EXIT_USAGE;
    }
    if (o->cancel && (has_opts || o->wait)) {
        fprintf(stderr,
                "jobcoord-submit: --cancel takes only --reason, --wait-timeout-ms and --json\n");
        return EXIT_USAGE;
    }
    if (o->reason && !o->cancel) {
        fprintf(stderr, "jobcoord-submit: --reason goes with --cancel\n");
        return EXIT_USAGE;
    }
    if (o->wait_timeout_ms >= 0 && !o->wait && !o->cancel) {
        fprintf(stderr, "jobcoord-submit: --wait-timeout-ms goes with --wait\n");
        return EXIT_USAGE;
    }
    return 0;
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
        fputs("{\"id\":", stdout);
        json_str(o->cancel, strlen(o->cancel));
        printf(",\"cancel\":\"%s\",\"state\":",
               rc == 0 ? "accepted" : rc == EXIT_REFUSED ? "refused" : "no_answer");
        if (rc == 0)
            json_str(state, strlen(state));
        else
            fputs("null", stdout);
        fputs(",\"reason\":", stdout);
        if (rc == EXIT_REFUSED)
            json_str(reason, strlen(reason));
        else
            fputs("null", stdout);
        printf("}\n");
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
    rc = parse_args(argc, argv, &o);
    if (rc) {
        if (rc == EXIT_USAGE)
            fprintf(stderr, "Try 'jobcoord-submit --help'.\n");
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    if (o.type) {
        rc = build_payload(&o, &p, err, sizeof err);
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
