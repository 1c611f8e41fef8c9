/*
 * submit_args.c - jobcoord-submit's command line: usage, options, and the
 * single job's payload built from them (see jobcoord_submit.c for what the
 * tool does with them).
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

void submit_usage(FILE *out)
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

// parse_int reads a whole decimal integer in [min, max].
static int submit_parse_int(const char *s, long min, long max, long *out)
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
int submit_read_bounded(FILE *f, const char *what, payload *p, char *err, size_t err_size)
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
int submit_build_payload(const options *o, payload *p, char *err, size_t err_size)
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
        return submit_read_bounded(stdin, "standard input", p, err, err_size);
    if (o->payload_file) {
        f = fopen(o->payload_file, "rb");
        if (!f) {
            snprintf(err, err_size, "cannot open %s: %s", o->payload_file, strerror(errno));
            return EXIT_SYSTEM;
        }
        rc = submit_read_bounded(f, o->payload_file, p, err, err_size);
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

// set_opt passes a numeric option to the submission options, checked as
// an integer here (usage error) and for its range by the SDK.
static int submit_set_opt(options *o, const char *flag, const char *name, const char *value)
{
    char err[256];
    long ignored;

    if (submit_parse_int(value, LONG_MIN, LONG_MAX, &ignored) != 0) {
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
int submit_parse_args(int argc, char **argv, options *o)
{
    int n_payloads = 0, has_opts = 0, rc;
    char err[256];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t f;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            submit_usage(stdout);
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
            rc = submit_set_opt(o, a, submit_flags[f].name, v);
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
            if (submit_parse_int(v, 0, 2147483647L, &o->wait_timeout_ms) != 0) {
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
