/*
 * submit.h - what jobcoord-submit's two files share: its limits and exit
 * codes, its command line (submit_args.c) and payloads.
 */
#ifndef JC_TOOLS_SUBMIT_H
#define JC_TOOLS_SUBMIT_H

#include <stddef.h>
#include <stdio.h>

#include <jobcoord/jobcoord.h>

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

void submit_usage(FILE *out);
/* submit_read_bounded reads f into p, refusing more than PAYLOAD_MAX bytes:
 * 0, 100 too large, 111 read error (err says why). */
int submit_read_bounded(FILE *f, const char *what, payload *p, char *err, size_t err_size);
/* submit_build_payload makes the single job's payload from the options. */
int submit_build_payload(const options *o, payload *p, char *err, size_t err_size);
/* submit_parse_args fills o from the command line: 0, -1 for --help/--version
 * (done), or an exit code. */
int submit_parse_args(int argc, char **argv, options *o);

#endif
