/*
 * http_query.c - reading the status API's query strings: the check of the
 * parameter names, numbers, times, ids and the /v1/jobs cursor (see
 * http_int.h; the contract: docs/http-api.md).
 *
 * /v1/jobs's filters and page are read here too. The cursor is base64url
 * (no padding) of a version byte, created_at in microseconds since the
 * epoch (int64, big-endian) and the 16 bytes of the id of the page's last
 * job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http/http_int.h"
#include "jcproto/proto.h"

#define JOBS_LIMIT_DEFAULT 50
#define JOBS_LIMIT_MAX 500
#define CURSOR_VERSION 1
#define CURSOR_BYTES 25 /* version, int64 microseconds, uuid */
#define CURSOR_US_MAX 253402300799999999ULL /* 9999-12-31T23:59:59.999999Z */
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct param_check {
    const char *const *allowed; /* NULL-terminated */
    const char *bad;            /* the first offending name */
    const char *problem;
    unsigned seen;
} param_check;

static enum MHD_Result param_seen(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    param_check *pc = cls;
    size_t i = 0;
    (void)kind;
    while (pc->allowed[i] && strcmp(pc->allowed[i], key) != 0)
        i++;
    pc->bad = key;
    if (!pc->allowed[i])
        pc->problem = "is not a parameter of this route";
    else if (pc->seen & (1u << i))
        pc->problem = "is given more than once";
    else if (!value || !value[0])
        pc->problem = "needs a value";
    else {
        pc->seen |= 1u << i;
        pc->bad = NULL;
        return MHD_YES;
    }
    return MHD_NO;
}

// jc_query_check_or_reply answers 400 when the query has a parameter that is
// not in allowed, is repeated or is empty. Returns 0, or -1 after answering.
int jc_query_check_or_reply(jc_req *r, const char *const *allowed, enum MHD_Result *ret)
{
    param_check pc = {allowed, NULL, NULL, 0};
    MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, param_seen, &pc);
    if (!pc.bad)
        return 0;
    *ret = jc_reply_error(r, 400, "bad_request", "query parameter '%.64s' %s", pc.bad,
                          pc.problem);
    return -1;
}

// jc_query_uint reads a decimal of 1..10 digits within [lo, hi]; -1 otherwise.
int jc_query_uint(const char *s, long lo, long hi, long *out)
{
    long v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

// jc_query_bool reads exactly "true" or "false"; -1 otherwise.
int jc_query_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

// digits reads exactly n decimal digits at s.
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

// days_from_civil counts days from 1970-01-01 to y-m-d (proleptic Gregorian;
// Howard Hinnant's algorithm).
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// parse_time reads RFC 3339 (2026-11-22T19:51:47.123Z, an offset instead of
// Z, up to 9 fraction digits) or epoch seconds (digits, up to 6 fraction
// digits) into microseconds since the epoch. Returns 0 or -1.
static int parse_time(const char *s, int64_t *us)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec, frac = 0, frac_digits = 0, off = 0;
    const char *p;

    if (strchr(s, '-') == NULL || strchr(s, '-') > s + 4) { /* epoch seconds */
        int64_t v = 0;
        size_t n = 0;
        for (p = s; *p >= '0' && *p <= '9'; p++, n++)
            v = v * 10 + (*p - '0');
        if (n == 0 || n > 11)
            return -1;
        v *= 1000000;
        if (*p == '.') {
            int64_t scale = 100000;
            for (p++; *p >= '0' && *p <= '9' && frac_digits < 6; p++, frac_digits++, scale /= 10)
                v += (*p - '0') * scale;
            if (frac_digits == 0)
                return -1;
        }
        if (*p)
            return -1;
        *us = v;
        return 0;
    }
    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) ||
        h > 23 || mi > 59 || sec > 59)
        return -1;
    p = s + 19;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, frac_digits++)
            if (frac_digits < 6)
                frac = frac * 10 + (*p - '0');
        if (frac_digits == 0 || frac_digits > 9)
            return -1;
        for (int i = frac_digits; i < 6; i++)
            frac *= 10;
    }
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        off = 0;
    } else if ((p[0] == '+' || p[0] == '-' || p[0] == ' ') && strlen(p) == 6 && p[3] == ':') {
        /* ' ': an unencoded '+' in a query string arrives as a space */
        int oh, om;
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 60 + om) * (p[0] == '-' ? -1 : 1);
    } else {
        return -1;
    }
    *us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60) *
           1000000) + frac;
    return 0;
}

int jc_query_time(const char *s, int64_t *us)
{
    return parse_time(s, us);
}

int jc_query_name_valid(const char *s)
{
    return jc_name_valid((const uint8_t *)s, strlen(s), JC_MAX_NAME_LEN);
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

// jc_query_cursor_encode writes the cursor after the job (us, uuid text) into out.
void jc_query_cursor_encode(int64_t us, const char *uuid, char *out, size_t out_size)
{
    unsigned char raw[CURSOR_BYTES];
    uint64_t u = (uint64_t)us;
    raw[0] = CURSOR_VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    for (int i = 0, j = 0; i < 16; i++, j += 2) {
        if (uuid[j] == '-')
            j++;
        raw[9 + i] = (unsigned char)(hexval(uuid[j]) << 4 | hexval(uuid[j + 1]));
    }
    sodium_bin2base64(out, out_size, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

// cursor_decode checks a cursor and gives its microseconds (as decimal
// text) and job id (uuid text). Returns 0 or -1.
static int cursor_decode(const char *s, char us_text[JC_CURSOR_US_TEXT], char uuid[JC_UUID_TEXT])
{
    unsigned char raw[CURSOR_BYTES];
    size_t len = 0;
    uint64_t u = 0;
    if (strlen(s) != sodium_base64_ENCODED_LEN(CURSOR_BYTES,
                                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1 ||
        sodium_base642bin(raw, sizeof raw, s, strlen(s), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != CURSOR_BYTES || raw[0] != CURSOR_VERSION)
        return -1;
    for (int i = 0; i < 8; i++)
        u = u << 8 | raw[1 + i];
    if (u > CURSOR_US_MAX) /* keeps the SQL's timestamp arithmetic in range */
        return -1;
    snprintf(us_text, JC_CURSOR_US_TEXT, "%lld", (long long)(int64_t)u);
    snprintf(uuid, JC_UUID_TEXT,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", raw[9],
             raw[10], raw[11], raw[12], raw[13], raw[14], raw[15], raw[16], raw[17], raw[18],
             raw[19], raw[20], raw[21], raw[22], raw[23], raw[24]);
    return 0;
}

// valid_state tells whether s is a job state.
static int valid_state(const char *s)
{
    static const char *const states[] = {"pending", "assigned",  "running", "succeeded",
                                         "failed",  "canceling", "canceled"};
    for (size_t i = 0; i < N_OF(states); i++)
        if (strcmp(s, states[i]) == 0)
            return 1;
    return 0;
}

/* The filters of /v1/jobs, in the order of the checks and of params[2..5],
 * with the answer to a bad value. */
static const struct job_filter {
    const char *name;
    int (*valid)(const char *s);
    const char *problem;
} job_filters[] = {
    {"state", valid_state,
     "state must be one of pending, assigned, running, succeeded, failed, canceling, canceled"},
    {"type", jc_query_name_valid, "type: a job type is 1..64 characters of [A-Za-z0-9._:@-]"},
    {"worker", jc_query_name_valid,
     "worker: a worker id is 1..64 characters of [A-Za-z0-9._:@-]"},
    {"submitter", jc_query_name_valid,
     "submitter: a principal id is 1..64 characters of [A-Za-z0-9._:@-]"},
};

int jc_query_jobs_or_reply(jc_req *r, const char *params[10], jc_jobs_query *q,
                           enum MHD_Result *ret)
{
    const char *since, *limit_s, *cursor;
    int64_t since_us = 0;

    q->limit = JOBS_LIMIT_DEFAULT;
    for (size_t i = 0; i < N_OF(job_filters); i++) {
        const char *v = jc_req_query(r, job_filters[i].name);
        if (v && !job_filters[i].valid(v)) {
            *ret = jc_reply_error(r, 400, "bad_request", "%s", job_filters[i].problem);
            return -1;
        }
        params[2 + i] = v;
    }
    since = jc_req_query(r, "since");
    limit_s = jc_req_query(r, "limit");
    cursor = jc_req_query(r, "cursor");
    if (since && parse_time(since, &since_us) != 0) {
        *ret = jc_reply_error(r, 400, "bad_request",
                              "since must be an RFC 3339 time or epoch seconds");
        return -1;
    }
    if (limit_s && jc_query_uint(limit_s, 1, JOBS_LIMIT_MAX, &q->limit) != 0) {
        *ret = jc_reply_error(r, 400, "bad_request", "limit must be an integer 1..%d",
                              JOBS_LIMIT_MAX);
        return -1;
    }
    if (cursor && cursor_decode(cursor, q->cursor_us, q->cursor_id) != 0) {
        *ret = jc_reply_error(r, 400, "bad_request",
                              "cursor is not one this server gave (use next_cursor as is)");
        return -1;
    }
    if (since) {
        snprintf(q->since_us, sizeof q->since_us, "%lld", (long long)since_us);
        params[6] = q->since_us;
    }
    if (cursor) {
        params[7] = q->cursor_us;
        params[8] = q->cursor_id;
    }
    snprintf(q->limit_text, sizeof q->limit_text, "%ld", q->limit);
    params[9] = q->limit_text;
    return 0;
}
