/*
 * bench_principals.c - simulated principals, created with the admin CLI
 * (`jobcoord-admin --json user add ID --role ROLE`) as an operator would.
 *
 * The CLI prints the new key once, as {"id","role","key_id","key"(base64)}.
 * A few CLI processes run at a time: each one's cost is a process start and
 * one durable commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench.h"

#define PARALLEL 8

static int cmp_principal(const void *a, const void *b)
{
    return strcmp(((const principal *)a)->id, ((const principal *)b)->id);
}

// json_str copies the string value of "name" in a flat JSON object; the
// CLI's values here are names and base64, which need no unescaping.
static int json_str(const char *json, const char *name, char *out, size_t out_size)
{
    char needle[64];
    const char *p, *end;
    snprintf(needle, sizeof needle, "\"%s\":\"", name);
    p = strstr(json, needle);
    if (!p)
        return -1;
    p += strlen(needle);
    end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= out_size)
        return -1;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 0;
}

static int parse_reply(const char *json, principal *p, char *errstr, size_t errstr_size)
{
    char b64[128];
    size_t n = 0;
    if (json_str(json, "key_id", p->key_id, sizeof p->key_id) != 0 ||
        json_str(json, "key", b64, sizeof b64) != 0 ||
        sodium_base642bin(p->key, sizeof p->key, b64, strlen(b64), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n != JC_KEY_LEN) {
        snprintf(errstr, errstr_size, "user add %s: unexpected output: %.200s", p->id, json);
        return -1;
    }
    return 0;
}

principal *principals_create(const bench_opts *o, const char *prefix, const char *role, int n,
                             char *errstr, size_t errstr_size)
{
    principal *ps = calloc((size_t)(n > 0 ? n : 1), sizeof *ps);
    FILE *pipes[PARALLEL];
    char cmd[1024], out[1024];
    int ok = 0;

    if (!ps) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (strchr(o->admin, '\'')) {
        snprintf(errstr, errstr_size, "admin path must not contain a quote");
        goto fail;
    }
    /* the database is handed over in the environment: no shell quoting */
    if (setenv("JOBCOORD_DATABASE_CONNINFO", o->db, 1) != 0) {
        snprintf(errstr, errstr_size, "setenv failed");
        goto fail;
    }
    for (int base = 0; base < n; base += PARALLEL) {
        int k = n - base < PARALLEL ? n - base : PARALLEL;
        for (int i = 0; i < k; i++) {
            principal *p = &ps[base + i];
            snprintf(p->id, sizeof p->id, "%s%05d", prefix, base + i);
            snprintf(cmd, sizeof cmd, "'%s' --json user add %s --role %s 2>/dev/null", o->admin,
                     p->id, role);
            pipes[i] = popen(cmd, "r");
        }
        for (int i = 0; i < k; i++) {
            size_t len = 0;
            int status;
            if (!pipes[i]) {
                snprintf(errstr, errstr_size, "cannot run %s", o->admin);
                continue;
            }
            len = fread(out, 1, sizeof out - 1, pipes[i]);
            out[len] = '\0';
            status = pclose(pipes[i]);
            if (status != 0) {
                snprintf(errstr, errstr_size, "%s user add %s failed (status %d): %.200s",
                         o->admin, ps[base + i].id, status, out);
                continue;
            }
            if (parse_reply(out, &ps[base + i], errstr, errstr_size) == 0)
                ok++;
        }
        if (ok != base + k)
            goto fail;
    }
    qsort(ps, (size_t)n, sizeof *ps, cmp_principal);
    return ps;
fail:
    free(ps);
    return NULL;
}

const principal *principal_find(const principal *ps, int n, const uint8_t *s, size_t len)
{
    int lo = 0, hi = n - 1;
    char id[JC_MAX_PRINCIPAL_LEN + 1];
    if (len > JC_MAX_PRINCIPAL_LEN)
        return NULL;
    memcpy(id, s, len);
    id[len] = '\0';
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(ps[mid].id, id);
        if (c == 0)
            return &ps[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}
