/*
 * jobcoord_token.c - jobcoord-token: gets an access token from the
 * coordinator's token endpoint for the principal of an SDK configuration
 * file and prints it, for scripts that call the HTTP API:
 *
 *   curl -H "Authorization: Bearer $(jobcoord-token --config alice.conf)" ...
 *
 * Only the public SDK API is used (jc_token_source_*).
 *
 * Exit codes: 0 printed, 1 the coordinator refused (credentials, scope),
 * 100 usage or invalid configuration, 111 system error (the file, the
 * network, the coordinator's trouble, an answer that is not a token).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jobcoord/jobcoord.h>

#include "jcproto/json.h"
#include "textout.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 100
#define EXIT_SYSTEM 111

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jobcoord-token --config FILE [--scope SCOPES] [--json]\n"
            "\n"
            "Prints an access token for the configuration's principal, from the\n"
            "coordinator at token.url (POST <token.url>/v1/token, client credentials\n"
            "authenticated with a JWT signed by the principal's key).\n"
            "\n"
            "  --config FILE     SDK configuration: principal, key.id, key or key.file,\n"
            "                    token.url [, token.scope, token.timeout.ms ...]\n"
            "  --scope SCOPES    ask for these space-separated scopes (replaces token.scope)\n"
            "  --json            print {\"access_token\",\"token_type\",\"expires_in\",\n"
            "                    \"expires_at_ms\",\"scope\"} instead of the bare token\n"
            "  --help, --version\n"
            "\n"
            "Exit codes: 0 ok, 1 refused by the coordinator, 100 usage or\n"
            "configuration error, 111 system error.\n");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    const char *config = NULL, *scope = NULL;
    int json = 0, code = EXIT_SYSTEM;
    char err[1024], token[JC_TOKEN_MAX_LEN + 1], granted[1024];
    int64_t expires_at = 0;
    jc_conf_t *conf = NULL;
    jc_token_source_t *ts = NULL;
    jc_err_t e;

    jc_json_wipe_on_free(); /* it prints an access token */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("jobcoord-token %s (libjobcoord %s)\n", JC_VERSION_STR, jc_version());
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if ((strcmp(a, "--config") == 0 || strcmp(a, "--scope") == 0) && i + 1 < argc) {
            if (a[2] == 'c')
                config = argv[++i];
            else
                scope = argv[++i];
        } else {
            fprintf(stderr, "jobcoord-token: unexpected argument '%s'\n", a);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!config) {
        fprintf(stderr, "jobcoord-token: --config FILE is required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    conf = jc_conf_new();
    if (!conf) {
        fprintf(stderr, "jobcoord-token: out of memory\n");
        return EXIT_SYSTEM;
    }
    e = jc_conf_load_file(conf, config, err, sizeof err);
    if (e == JC_OK && scope)
        e = jc_conf_set(conf, "token.scope", scope, err, sizeof err);
    if (e == JC_OK)
        e = jc_token_source_new(conf, &ts, err, sizeof err);
    if (e != JC_OK) {
        fprintf(stderr, "jobcoord-token: %s\n", err);
        code = e == JC_ERR_IO ? EXIT_SYSTEM : EXIT_USAGE;
        goto out;
    }
    e = jc_token_get(ts, token, sizeof token, &expires_at, err, sizeof err);
    if (e != JC_OK) {
        fprintf(stderr, "jobcoord-token: %s\n", err);
        code = e == JC_ERR_AUTH ? EXIT_REFUSED : EXIT_SYSTEM;
        goto out;
    }
    if (json) {
        int64_t left = (expires_at - now_ms()) / 1000;
        if (jc_token_scope(ts, granted, sizeof granted) != JC_OK)
            granted[0] = '\0';
        if (json_print("jobcoord-token",
                       json_pack("{s:o,s:s,s:I,s:I,s:o}", "access_token",
                                 json_text(token, strlen(token)), "token_type", "Bearer",
                                 "expires_in", (json_int_t)(left > 0 ? left : 0), "expires_at_ms",
                                 (json_int_t)expires_at, "scope",
                                 granted[0] ? json_text(granted, strlen(granted)) : json_null())) !=
            0) {
            code = EXIT_SYSTEM;
            goto out;
        }
    } else {
        puts(token);
    }
    code = fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
out:
    jc_token_source_destroy(ts);
    jc_conf_destroy(conf);
    return code;
}
