/*
 * conf.c - the SDK's key/value configuration. Known keys are validated when
 * set, so a typo fails at jc_conf_set with the key named, not later.
 * "kafka.*" keys are passed to librdkafka (validated there, at handle
 * creation).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "token.h"

#define MAX_ENTRIES 256

typedef struct entry {
    char *name, *value;
} entry;

struct jc_conf_s {
    entry e[MAX_ENTRIES];
    int n;
};

/* Known keys; "int" keys carry a range, others may have a check. */
static const struct {
    const char *name;
    int is_int;
    long min, max;
    int (*check)(const char *value, char *errstr, size_t errstr_size);
} keys[] = {
    {"principal", 0, 0, 0, NULL},
    {"key", 0, 0, 0, NULL},
    {"key.file", 0, 0, 0, NULL},
    {"key.id", 0, 0, 0, NULL},
    {"key.reload.ms", 1, 0, 3600000, NULL},
    {"bootstrap.file", 0, 0, 0, NULL},
    {"topic.prefix", 0, 0, 0, NULL},
    {"capabilities", 0, 0, 0, NULL},
    {"slots", 1, 0, 1024, NULL},
    {"heartbeat.interval.ms", 1, 100, 3600000, NULL},
    {"version", 0, 0, 0, NULL},
    {"host", 0, 0, 0, NULL},
    {"token.url", 0, 0, 0, jc_token_check_url},
    {"token.scope", 0, 0, 0, jc_token_check_scope},
    {"token.audience", 0, 0, 0, jc_token_check_audience},
    {"token.refresh.margin.ms", 1, 0, 86400000, NULL},
    {"token.timeout.ms", 1, 100, 600000, NULL},
    {"protocol.version", 1, 1, 2, NULL}, /* JC_PROTO_VERSION_MIN..MAX (proto.h) */
    {"token.tls.ca.file", 0, 0, 0, NULL},
};

jc_conf_t *jc_conf_new(void) { return calloc(1, sizeof(jc_conf_t)); }

void jc_conf_destroy(jc_conf_t *conf)
{
    if (!conf)
        return;
    for (int i = 0; i < conf->n; i++) {
        free(conf->e[i].name);
        free(conf->e[i].value);
    }
    free(conf);
}

// check_value validates value for a known key; -1 with errstr otherwise.
static jc_err_t check_value(const char *name, const char *value, char *errstr, size_t errstr_size)
{
    if (strncmp(name, "kafka.", 6) == 0 && name[6])
        return JC_OK;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *end;
        long v;
        if (strcmp(keys[i].name, name) != 0)
            continue;
        if (!keys[i].is_int)
            return keys[i].check && keys[i].check(value, errstr, errstr_size) < 0
                       ? JC_ERR_INVALID_CONF
                       : JC_OK;
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < keys[i].min || v > keys[i].max) {
            snprintf(errstr, errstr_size, "%s must be an integer from %ld to %ld, not '%s'", name,
                     keys[i].min, keys[i].max, value);
            return JC_ERR_INVALID_CONF;
        }
        return JC_OK;
    }
    snprintf(errstr, errstr_size, "unknown configuration key '%s'", name);
    return JC_ERR_UNKNOWN_CONF;
}

jc_err_t jc_conf_set(jc_conf_t *conf, const char *name, const char *value, char *errstr,
                     size_t errstr_size)
{
    jc_err_t err;
    char *v;
    if (!conf || !name || !value) {
        snprintf(errstr, errstr_size, "jc_conf_set: NULL argument");
        return JC_ERR_INVALID_ARG;
    }
    err = check_value(name, value, errstr, errstr_size);
    if (err)
        return err;
    v = strdup(value);
    if (!v)
        return JC_ERR_NOMEM;
    for (int i = 0; i < conf->n; i++)
        if (strcmp(conf->e[i].name, name) == 0) {
            free(conf->e[i].value);
            conf->e[i].value = v;
            return JC_OK;
        }
    if (conf->n == MAX_ENTRIES) {
        free(v);
        snprintf(errstr, errstr_size, "too many configuration keys");
        return JC_ERR_INVALID_CONF;
    }
    conf->e[conf->n].name = strdup(name);
    if (!conf->e[conf->n].name) {
        free(v);
        return JC_ERR_NOMEM;
    }
    conf->e[conf->n].value = v;
    conf->n++;
    return JC_OK;
}

const char *jc_conf_get(const jc_conf_t *conf, const char *name)
{
    for (int i = 0; conf && i < conf->n; i++)
        if (strcmp(conf->e[i].name, name) == 0)
            return conf->e[i].value;
    return NULL;
}

jc_conf_t *jc_conf_dup(const jc_conf_t *conf)
{
    jc_conf_t *c = jc_conf_new();
    char ignored[8];
    for (int i = 0; c && i < conf->n; i++)
        if (jc_conf_set(c, conf->e[i].name, conf->e[i].value, ignored, sizeof ignored) != JC_OK) {
            jc_conf_destroy(c);
            return NULL;
        }
    return c;
}

int jc_conf_each(const jc_conf_t *conf, const char *prefix,
                 int (*fn)(const char *name, const char *value, void *arg), void *arg)
{
    size_t plen = strlen(prefix);
    for (int i = 0; i < conf->n; i++)
        if (strncmp(conf->e[i].name, prefix, plen) == 0) {
            int rc = fn(conf->e[i].name + plen, conf->e[i].value, arg);
            if (rc)
                return rc;
        }
    return 0;
}

static char *trim(char *s)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

jc_err_t jc_conf_load_file(jc_conf_t *conf, const char *path, char *errstr, size_t errstr_size)
{
    char line[4096], inner[512];
    FILE *f = fopen(path, "r");
    int lineno = 0;
    jc_err_t err = JC_OK;

    if (!f) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path, strerror(errno));
        return JC_ERR_IO;
    }
    while (fgets(line, sizeof line, f)) {
        char *s, *eq;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(errstr, errstr_size, "%s:%d: line too long", path, lineno);
            err = JC_ERR_INVALID_CONF;
            break;
        }
        s = trim(line);
        if (!*s || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "%s:%d: expected 'name = value'", path, lineno);
            err = JC_ERR_INVALID_CONF;
            break;
        }
        *eq = '\0';
        err = jc_conf_set(conf, trim(s), trim(eq + 1), inner, sizeof inner);
        if (err) {
            snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno, inner);
            break;
        }
    }
    fclose(f);
    return err;
}
