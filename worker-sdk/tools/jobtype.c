/*
 * jobtype.c - jobcoord-worker's allow-list of job types, and the argv and
 * environment it gives a program.
 *
 * Safety by construction: a job can only run a program an operator named
 * by absolute path in the configuration, with the configured fixed
 * arguments first; the job's payload only ever adds argv strings after
 * them. Nothing goes through a shell, and nothing in a payload can choose
 * the program, its environment or its directory.
 *
 * The payload format is the one of `find -print0` and `xargs -0`: each
 * argument ended by a NUL byte (argv strings cannot hold a NUL, so any
 * argument can be expressed). Limits are checked before anything is
 * allocated: at most max_args arguments, each at most JT_ARG_MAX_BYTES.
 * A payload argument may not start with '-' unless the type says so
 * (payload_options): otherwise a job could hand the program an option
 * ("-o /etc/passwd") where a file name was meant.
 *
 * Keys are "job.<type>.<field>". A type name may contain dots, so the key
 * is read from the right: the last component is a field, or, when the one
 * before it is "env", the name of an environment variable.
 */
#include "jobtype.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

enum field {
    F_COMMAND,
    F_ARGS,
    F_CWD,
    F_TIMEOUT_MS,
    F_KILL_GRACE_MS,
    F_RETRY_EXIT_CODES,
    F_MAX_ARGS,
    F_RESULT_BYTES,
    F_MAX_LOG_LINES,
    F_PAYLOAD_OPTIONS,
    F_ENV,
};

/* Fields and, for integers, their ranges. */
static const struct {
    const char *name;
    enum field field;
    int is_int;
    long min, max;
} fields[] = {
    {"command", F_COMMAND, 0, 0, 0},
    {"args", F_ARGS, 0, 0, 0},
    {"cwd", F_CWD, 0, 0, 0},
    {"timeout_ms", F_TIMEOUT_MS, 1, 0, INT_MAX},
    {"kill_grace_ms", F_KILL_GRACE_MS, 1, 0, 600000},
    {"retry_exit_codes", F_RETRY_EXIT_CODES, 0, 0, 0},
    {"max_args", F_MAX_ARGS, 1, 0, JT_MAX_ARGS_LIMIT},
    {"result_bytes", F_RESULT_BYTES, 1, 0, JT_MAX_RESULT_BYTES},
    {"max_log_lines", F_MAX_LOG_LINES, 1, 0, 1000000000},
    {"payload_options", F_PAYLOAD_OPTIONS, 0, 0, 0},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

// valid_type_name says whether s (n bytes) is a job type name.
static int valid_type_name(const char *s, size_t n)
{
    if (n == 0 || n > JT_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._:@-", s[i]))
            return 0;
    return 1;
}

// valid_env_name says whether s is a portable environment variable name.
static int valid_env_name(const char *s)
{
    if (!*s || isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

// parse_long reads a whole decimal integer in [min, max].
static int parse_long(const char *s, long min, long max, long *out)
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

// type_get finds the type called name (n bytes), adding it if new.
static jobtype *type_get(jobtypes *jt, const char *name, size_t n, char *err, size_t err_size)
{
    jobtype *t;

    for (int i = 0; i < jt->n; i++)
        if (strlen(jt->t[i].name) == n && memcmp(jt->t[i].name, name, n) == 0)
            return &jt->t[i];
    if (jt->n == JT_MAX_TYPES) {
        snprintf(err, err_size, "more than %d job types", JT_MAX_TYPES);
        return NULL;
    }
    t = &jt->t[jt->n++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, n);
    t->name[n] = '\0';
    t->kill_grace_ms = JT_DEFAULT_KILL_GRACE_MS;
    t->max_args = JT_DEFAULT_MAX_ARGS;
    t->result_bytes = JT_DEFAULT_RESULT_BYTES;
    t->max_log_lines = JT_DEFAULT_MAX_LOG_LINES;
    return t;
}

// set_args splits value at commas ("\," is a comma, "\\" a backslash;
// nothing is trimmed) into t's fixed arguments.
static int set_args(jobtype *t, const char *name, const char *value, char *err, size_t err_size)
{
    char *buf = malloc(strlen(value) + 1), *w = buf;
    char *items[JT_MAX_FIXED_ARGS];
    int n = 0, rc = -1;

    if (!buf) {
        snprintf(err, err_size, "out of memory");
        goto out;
    }
    if (*value) {
        items[n++] = w;
        for (const char *p = value; *p; p++) {
            if (*p == '\\' && (p[1] == ',' || p[1] == '\\')) {
                *w++ = *++p;
            } else if (*p == ',') {
                *w++ = '\0';
                if (n == JT_MAX_FIXED_ARGS) {
                    snprintf(err, err_size, "%s: more than %d arguments", name,
                             JT_MAX_FIXED_ARGS);
                    goto out;
                }
                items[n++] = w;
            } else {
                *w++ = *p;
            }
        }
    }
    *w = '\0';
    for (int i = 0; i < t->n_args; i++)
        free(t->args[i]);
    t->n_args = 0;
    for (int i = 0; i < n; i++) {
        t->args[i] = strdup(items[i]);
        if (!t->args[i]) {
            snprintf(err, err_size, "out of memory");
            goto out;
        }
        t->n_args = i + 1;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

// set_retry_codes reads a comma-separated list of exit statuses 1..255.
static int set_retry_codes(jobtype *t, const char *name, const char *value, char *err,
                           size_t err_size)
{
    unsigned char codes[32] = {0};
    char item[16];
    const char *p = value;

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *s = item;
        long code;

        if (n >= sizeof item)
            goto bad;
        memcpy(item, p, n);
        item[n] = '\0';
        while (isspace((unsigned char)*s))
            s++;
        while (n > 0 && isspace((unsigned char)item[n - 1]))
            item[--n] = '\0';
        if (parse_long(s, 1, 255, &code) != 0)
            goto bad;
        codes[code / 8] |= (unsigned char)(1u << (code % 8));
        p = comma ? comma + 1 : p + strlen(p);
    }
    memcpy(t->retry_codes, codes, sizeof codes);
    return 0;
bad:
    snprintf(err, err_size, "%s must be a comma-separated list of exit statuses 1..255, not '%s'",
             name, value);
    return -1;
}

// set_env sets variable var of t (replacing an earlier value).
static int set_env(jobtype *t, const char *name, const char *var, const char *value, char *err,
                   size_t err_size)
{
    char *v;
    int i;

    if (!valid_env_name(var) || strncmp(var, "JOBCOORD_", 9) == 0) {
        snprintf(err, err_size, "%s: '%s' is not a usable variable name", name, var);
        return -1;
    }
    for (i = 0; i < t->n_env; i++)
        if (strcmp(t->env_names[i], var) == 0)
            break;
    if (i == JT_MAX_ENV) {
        snprintf(err, err_size, "%s: more than %d variables", name, JT_MAX_ENV);
        return -1;
    }
    v = strdup(value);
    if (!v) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (i == t->n_env) {
        t->env_names[i] = strdup(var);
        if (!t->env_names[i]) {
            free(v);
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        t->env_values[i] = NULL;
        t->n_env++;
    }
    free(t->env_values[i]);
    t->env_values[i] = v;
    return 0;
}

// set_path stores an absolute path value in *slot.
static int set_path(char **slot, const char *name, const char *value, char *err, size_t err_size)
{
    char *v;

    if (value[0] != '/') {
        snprintf(err, err_size, "%s must be an absolute path, not '%s'", name, value);
        return -1;
    }
    v = strdup(value);
    if (!v) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    free(*slot);
    *slot = v;
    return 0;
}

int jobtypes_set(jobtypes *jt, const char *name, const char *value, char *err, size_t err_size)
{
    const char *rest, *last, *type_end, *var = NULL;
    jobtype *t;
    long v = 0;
    size_t f;

    if (strncmp(name, "job.", 4) != 0)
        goto unknown;
    rest = name + 4;
    last = strrchr(rest, '.');
    if (!last)
        goto unknown;
    for (f = 0; f < N_FIELDS; f++)
        if (strcmp(last + 1, fields[f].name) == 0)
            break;
    type_end = last;
    if (f == N_FIELDS) {
        /* job.<type>.env.<NAME> */
        if (last - rest < 5 || memcmp(last - 4, ".env", 4) != 0)
            goto unknown;
        var = last + 1;
        type_end = last - 4;
    }
    if (!valid_type_name(rest, (size_t)(type_end - rest))) {
        snprintf(err, err_size, "%s: '%.*s' is not a job type name ([A-Za-z0-9._:@-]{1,64})",
                 name, (int)(type_end - rest), rest);
        return -1;
    }
    if (f < N_FIELDS && fields[f].is_int &&
        parse_long(value, fields[f].min, fields[f].max, &v) != 0) {
        snprintf(err, err_size, "%s must be an integer from %ld to %ld, not '%s'", name,
                 fields[f].min, fields[f].max, value);
        return -1;
    }
    t = type_get(jt, rest, (size_t)(type_end - rest), err, err_size);
    if (!t)
        return -1;
    if (var)
        return set_env(t, name, var, value, err, err_size);
    switch (fields[f].field) {
    case F_COMMAND:
        return set_path(&t->command, name, value, err, err_size);
    case F_CWD:
        return set_path(&t->cwd, name, value, err, err_size);
    case F_ARGS:
        return set_args(t, name, value, err, err_size);
    case F_RETRY_EXIT_CODES:
        return set_retry_codes(t, name, value, err, err_size);
    case F_TIMEOUT_MS:
        t->timeout_ms = v;
        return 0;
    case F_KILL_GRACE_MS:
        t->kill_grace_ms = v;
        return 0;
    case F_MAX_ARGS:
        t->max_args = (int)v;
        return 0;
    case F_RESULT_BYTES:
        t->result_bytes = v;
        return 0;
    case F_MAX_LOG_LINES:
        t->max_log_lines = v;
        return 0;
    case F_PAYLOAD_OPTIONS:
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
            snprintf(err, err_size, "%s must be yes or no, not '%s'", name, value);
            return -1;
        }
        t->payload_options = strcmp(value, "yes") == 0;
        return 0;
    case F_ENV:
        break;
    }
unknown:
    snprintf(err, err_size, "unknown configuration key '%s'", name);
    return -1;
}

// trim removes leading and trailing white space in place.
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

int jobtypes_load_file(jobtypes *jt, const char *path, jt_sdk_set_fn sdk_set, void *arg, char *err,
                       size_t err_size)
{
    char line[LINE_MAX_BYTES], inner[512];
    FILE *f = fopen(path, "r");
    int lineno = 0, rc = 0;

    if (!f) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *s, *eq, *name;

        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, err_size, "%s:%d: line too long", path, lineno);
            rc = -2;
            goto out;
        }
        s = trim(line);
        if (!*s || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, err_size, "%s:%d: expected 'name = value'", path, lineno);
            rc = -2;
            goto out;
        }
        *eq = '\0';
        name = trim(s);
        if (strncmp(name, "job.", 4) == 0)
            rc = jobtypes_set(jt, name, trim(eq + 1), inner, sizeof inner);
        else
            rc = sdk_set(name, trim(eq + 1), arg, inner, sizeof inner);
        if (rc) {
            snprintf(err, err_size, "%s:%d: %s", path, lineno, inner);
            rc = -2;
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
out:
    fclose(f);
    return rc;
}

int jobtypes_check(const jobtypes *jt, char *err, size_t err_size)
{
    struct stat st;

    if (jt->n == 0) {
        snprintf(err, err_size, "no job types configured (job.<type>.command = /path)");
        return -1;
    }
    for (int i = 0; i < jt->n; i++) {
        const jobtype *t = &jt->t[i];
        const char *dir = t->cwd ? t->cwd : "/";

        if (!t->command) {
            snprintf(err, err_size, "job.%s.command is missing", t->name);
            return -1;
        }
        if (stat(t->command, &st) != 0 || !S_ISREG(st.st_mode) || access(t->command, X_OK) != 0) {
            snprintf(err, err_size, "job.%s.command: %s is not an executable file", t->name,
                     t->command);
            return -1;
        }
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, err_size, "job.%s.cwd: %s is not a directory", t->name, dir);
            return -1;
        }
    }
    return 0;
}

void jobtypes_free(jobtypes *jt)
{
    for (int i = 0; i < jt->n; i++) {
        jobtype *t = &jt->t[i];
        free(t->command);
        free(t->cwd);
        for (int a = 0; a < t->n_args; a++)
            free(t->args[a]);
        for (int e = 0; e < t->n_env; e++) {
            free(t->env_names[e]);
            free(t->env_values[e]);
        }
    }
    jt->n = 0;
}

int jobtype_retry_code(const jobtype *t, int code)
{
    if (code < 0 || code > 255)
        return 0;
    return (t->retry_codes[code / 8] >> (code % 8)) & 1;
}

char **jobtype_argv(const jobtype *t, const void *payload, size_t len, int *bad_payload, char *err,
                    size_t err_size)
{
    const char *p = payload;
    size_t n_payload = 0, start = 0, argc, a;
    char **argv, *copy;

    *bad_payload = 1;
    /* count and check before allocating */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '\0')
            continue;
        if (i == len && i == start)
            break; /* nothing after the last NUL */
        if (i - start > JT_ARG_MAX_BYTES) {
            snprintf(err, err_size, "payload: argument %zu is longer than %d bytes",
                     n_payload + 1, JT_ARG_MAX_BYTES);
            return NULL;
        }
        if (p[start] == '-' && i > start && !t->payload_options) {
            snprintf(err, err_size,
                     "payload: argument %zu starts with '-' (job.%s.payload_options = yes "
                     "allows options)",
                     n_payload + 1, t->name);
            return NULL;
        }
        n_payload++;
        if (n_payload > (size_t)t->max_args) {
            snprintf(err, err_size, "payload: more than %d argument%s", t->max_args,
                     t->max_args == 1 ? "" : "s");
            return NULL;
        }
        start = i + 1;
    }
    *bad_payload = 0;
    argc = 1 + (size_t)t->n_args + n_payload;
    argv = malloc((argc + 1) * sizeof *argv + len + 1);
    if (!argv)
        return NULL;
    copy = (char *)(argv + argc + 1);
    if (len)
        memcpy(copy, p, len);
    copy[len] = '\0';
    argv[0] = t->command;
    for (a = 0; a < (size_t)t->n_args; a++)
        argv[1 + a] = t->args[a];
    a = 1 + (size_t)t->n_args;
    for (size_t i = 0; i < n_payload; i++) {
        argv[a++] = copy;
        copy += strlen(copy) + 1;
    }
    argv[a] = NULL;
    return argv;
}

char **jobtype_envp(const jobtype *t, const char *job_id, unsigned attempt)
{
    size_t n = 0, bytes = 0;
    char attempt_text[16], **envp, *w;
    int has_path = 0;
    const char *names[JT_MAX_ENV + 4], *values[JT_MAX_ENV + 4];

    snprintf(attempt_text, sizeof attempt_text, "%u", attempt);
    for (int i = 0; i < t->n_env; i++) {
        names[n] = t->env_names[i];
        values[n++] = t->env_values[i];
        if (strcmp(t->env_names[i], "PATH") == 0)
            has_path = 1;
    }
    if (!has_path) {
        names[n] = "PATH";
        values[n++] = JT_DEFAULT_PATH;
    }
    names[n] = "JOBCOORD_JOB_ID";
    values[n++] = job_id;
    names[n] = "JOBCOORD_JOB_TYPE";
    values[n++] = t->name;
    names[n] = "JOBCOORD_JOB_ATTEMPT";
    values[n++] = attempt_text;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(names[i]) + strlen(values[i]) + 2;
    envp = malloc((n + 1) * sizeof *envp + bytes);
    if (!envp)
        return NULL;
    w = (char *)(envp + n + 1);
    for (size_t i = 0; i < n; i++) {
        envp[i] = w;
        w += sprintf(w, "%s=%s", names[i], values[i]) + 1;
    }
    envp[n] = NULL;
    return envp;
}
