/*
 * admin_args.c - what every jobcoord-admin command shares about its
 * command line: options, usage and failure messages with their exit codes,
 * strict numbers and texts.
 */
#include "admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/db.h"

const char *admin_opt_value(const admin_args *a, const char *name)
{
    for (int i = 0; i < ADMIN_MAX_OPTS && a->cmd->opts[i].name; i++) {
        if (strcmp(a->cmd->opts[i].name, name) == 0)
            return a->val[i];
    }
    return NULL;
}

char admin_last_failure[512];

int admin_usage(const admin_args *a, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "jobcoord-admin %s%s%s: ", a->cmd->group ? a->cmd->group : "",
            a->cmd->group ? " " : "", a->cmd->name);
    va_start(ap, fmt);
    vsnprintf(admin_last_failure, sizeof admin_last_failure, fmt, ap);
    va_end(ap);
    fputs(admin_last_failure, stderr);
    fprintf(stderr, "\nUsage: jobcoord-admin %s%s%s %s\n", a->cmd->group ? a->cmd->group : "",
            a->cmd->group ? " " : "", a->cmd->name, a->cmd->synopsis);
    return ADMIN_USAGE;
}

int admin_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("jobcoord-admin: ", stderr);
    va_start(ap, fmt);
    vsnprintf(admin_last_failure, sizeof admin_last_failure, fmt, ap);
    va_end(ap);
    fputs(admin_last_failure, stderr);
    fputc('\n', stderr);
    return code;
}

int admin_pr_exit(jc_pr_status st, const char *err)
{
    switch (st) {
    case JC_PR_OK:
        return ADMIN_OK;
    case JC_PR_NOT_FOUND:
    case JC_PR_EXISTS:
    case JC_PR_INVALID:
    case JC_PR_BUSY:
        return admin_fail(ADMIN_REFUSED, "%s", err);
    case JC_PR_ERROR:
    default:
        return admin_fail(ADMIN_SYSERR, "%s", err);
    }
}

int admin_parse_long(const char *what, const char *text, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = (*text && !isspace((unsigned char)*text)) ? strtol(text, &end, 10) : 0;
    if (!end || *end || errno || v < min || v > max)
        return admin_fail(ADMIN_REFUSED, "%s must be an integer in %ld..%ld, not '%s'", what, min,
                          max, text);
    *out = v;
    return ADMIN_OK;
}

int admin_parse_duration(const char *what, const char *text, long max, long *out)
{
    static const struct {
        char unit;
        long seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    size_t len = strlen(text), digits = len;
    long mult = 1, n;
    char num[24];

    for (size_t u = 0; len > 1 && u < sizeof units / sizeof units[0]; u++) {
        if (text[len - 1] == units[u].unit) {
            mult = units[u].seconds;
            digits = len - 1;
        }
    }
    if (digits == 0 || digits >= sizeof num || strspn(text, "0123456789") != digits)
        return admin_fail(ADMIN_REFUSED,
                          "%s must be a duration: a number of seconds, or with s, m, h or d"
                          " (300, 5m, 2h, 1d), not '%s'",
                          what, text);
    memcpy(num, text, digits);
    num[digits] = '\0';
    n = strtol(num, NULL, 10);
    if (n < 1 || n > max / mult)
        return admin_fail(ADMIN_REFUSED, "%s must be 1 s..%ld s, not '%s'", what, max, text);
    *out = n * mult;
    return ADMIN_OK;
}

int admin_text_valid(const char *s, size_t max)
{
    size_t len = strlen(s);

    return len <= max && jc_utf8_valid((const uint8_t *)s, len);
}

int admin_opt_grace(const admin_args *a, long *grace)
{
    const char *text = admin_opt_value(a, "grace");

    if (!text)
        return ADMIN_OK;
    return admin_parse_long("--grace", text, 0, JC_PRINCIPAL_GRACE_MAX, grace);
}
