/*
 * proto_util.c - the small vocabulary of the wire protocol: the names of
 * message types, event and command kinds and the topics they travel on,
 * slices, the name rule for principals, key ids and job types, 16-byte ids
 * in their UUID text form, the clock, and the error text and UTF-8 helpers
 * the other proto_*.c files share.
 *
 * Every table here is indexed by its enum, so adding a type means adding a
 * row, and a wire name can never map to two values.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "jcproto/proto.h"
#include "jcproto/reasons.h"

static const char *const msg_type_names[JC_MSG__COUNT] = {
    [JC_MSG_HEARTBEAT] = "heartbeat",   [JC_MSG_JOB_SUBMIT] = "job.submit",
    [JC_MSG_JOB_CANCEL] = "job.cancel", [JC_MSG_JOB_EVENT] = "job.event",
    [JC_MSG_COMMAND] = "command",       [JC_MSG_COMMAND_ACK] = "command.ack",
    [JC_MSG_JOB_UPDATE] = "job.update", [JC_MSG_WORKER_EVENT] = "worker.event",
    [JC_MSG_JOB_REFUSAL] = "job.refusal",
};

static const char *const msg_type_topics[JC_MSG__COUNT] = {
    [JC_MSG_HEARTBEAT] = "heartbeats",    [JC_MSG_JOB_SUBMIT] = "job-requests",
    [JC_MSG_JOB_CANCEL] = "job-requests", [JC_MSG_JOB_EVENT] = "job-events",
    [JC_MSG_COMMAND] = "commands",        [JC_MSG_COMMAND_ACK] = "command-acks",
    [JC_MSG_JOB_UPDATE] = "job-updates",  [JC_MSG_WORKER_EVENT] = "worker-events",
    [JC_MSG_JOB_REFUSAL] = "job-updates",
};

static const char *const job_event_kind_names[JC_EV__COUNT] = {
    [JC_EV_ACCEPTED] = "accepted", [JC_EV_STARTED] = "started",     [JC_EV_PROGRESS] = "progress",
    [JC_EV_LOG] = "log",           [JC_EV_SUCCEEDED] = "succeeded", [JC_EV_FAILED] = "failed",
    [JC_EV_CANCELED] = "canceled",
};

static const char *const command_kind_names[JC_CMD__COUNT] = {
    [JC_CMD_ASSIGN] = "assign",   [JC_CMD_CANCEL] = "cancel", [JC_CMD_DRAIN] = "drain",
    [JC_CMD_UNDRAIN] = "undrain", [JC_CMD_CONFIG] = "config",
};

/* name_lookup returns the index of s[0..n) in names[1..count), or 0. */
static int name_lookup(const char *const *names, int count, const uint8_t *s, size_t n)
{
    int found = 0;

    if (s == NULL && n > 0)
        goto out;
    for (int i = 1; i < count; i++) {
        if (names[i] != NULL && strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            found = i;
            goto out;
        }
    }
out:
    return found;
}

const char *jc_msg_type_name(jc_msg_type t)
{
    return (t > JC_MSG_NONE && t < JC_MSG__COUNT) ? msg_type_names[t] : NULL;
}

jc_msg_type jc_msg_type_parse(const uint8_t *s, size_t n)
{
    return (jc_msg_type)name_lookup(msg_type_names, JC_MSG__COUNT, s, n);
}

const char *jc_msg_type_topic(jc_msg_type t)
{
    return (t > JC_MSG_NONE && t < JC_MSG__COUNT) ? msg_type_topics[t] : NULL;
}

const char *jc_job_event_kind_name(jc_job_event_kind k)
{
    return (k > JC_EV_NONE && k < JC_EV__COUNT) ? job_event_kind_names[k] : NULL;
}

jc_job_event_kind jc_job_event_kind_parse(const uint8_t *s, size_t n)
{
    return (jc_job_event_kind)name_lookup(job_event_kind_names, JC_EV__COUNT, s, n);
}

const char *jc_command_kind_name(jc_command_kind k)
{
    return (k > JC_CMD_NONE && k < JC_CMD__COUNT) ? command_kind_names[k] : NULL;
}

jc_command_kind jc_command_kind_parse(const uint8_t *s, size_t n)
{
    return (jc_command_kind)name_lookup(command_kind_names, JC_CMD__COUNT, s, n);
}

const char *jc_err_reason(jc_err_t err)
{
    switch (err) {
    case JC_ERR_TOO_LARGE: return JC_R_TOO_LARGE;
    case JC_ERR_MALFORMED: return JC_R_MALFORMED;
    case JC_ERR_LIMIT: return JC_R_LIMIT;
    case JC_ERR_BAD_VERSION: return JC_R_BAD_VERSION;
    case JC_ERR_BAD_SIGNATURE: return JC_R_BAD_SIGNATURE;
    case JC_ERR_SCHEMA: return JC_R_SCHEMA;
    default: return NULL;
    }
}

jc_slice jc_slice_str(const char *s)
{
    jc_slice sl = {NULL, 0};

    if (s != NULL) {
        sl.p = (const uint8_t *)s;
        sl.n = (uint32_t)strlen(s);
    }
    return sl;
}

int jc_slice_eq(jc_slice a, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (a.n != n)
        return 0;
    return n == 0 || memcmp(a.p, s, n) == 0;
}

int jc_name_valid(const uint8_t *p, size_t n, size_t max_len)
{
    if (p == NULL || n == 0 || n > max_len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

int jc_principal_name_valid(const char *s)
{
    return s != NULL && jc_name_valid((const uint8_t *)s, strlen(s), JC_MAX_PRINCIPAL_LEN);
}

void jc_id_random(uint8_t id[JC_ID_LEN])
{
    /* sodium_init picks the best random source once; it is idempotent and
     * thread-safe, and randombytes_buf works (aborting on a broken system
     * source) even if it failed, so its result is not needed. */
    int rc = sodium_init();

    (void)rc;
    randombytes_buf(id, JC_ID_LEN);
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40); /* version 4: random */
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80); /* variant 10 (RFC 9562) */
}

void jc_id_v7(uint8_t id[JC_ID_LEN])
{
    /* RFC 9562 section 5.7: 48 bits of Unix milliseconds, version 7, then
     * 12 bits of sub-millisecond time (section 6.2, method 3: ids made one
     * after the other in a process sort in that order, to about 250 ns),
     * the variant and 62 random bits. Debian 12's libuuid predates v7. */
    struct timespec ts;
    uint64_t ms = 0, frac = 0;
    int rc = sodium_init();

    (void)rc;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        frac = ((uint64_t)ts.tv_nsec % 1000000u) * 4096u / 1000000u; /* 0..4095 */
    }
    randombytes_buf(id + 8, JC_ID_LEN - 8);
    for (int i = 0; i < 6; i++)
        id[i] = (uint8_t)(ms >> (40 - 8 * i));
    id[6] = (uint8_t)(0x70 | (frac >> 8));
    id[7] = (uint8_t)(frac & 0xff);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
}

void jc_id_format(const uint8_t id[JC_ID_LEN], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (int i = 0; i < JC_ID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 0x0f];
    }
    out[o] = '\0';
}

/* hex_val returns the value of hex digit c (either case), or -1. */
static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int jc_id_text_valid(const char *s)
{
    uint8_t id[JC_ID_LEN];

    return jc_id_parse(s, id) == 0;
}

int jc_id_parse(const char *s, uint8_t id[JC_ID_LEN])
{
    uint8_t tmp[JC_ID_LEN];
    size_t o = 0;
    int rc = -1;

    if (s == NULL || strlen(s) != 36)
        goto out;
    for (int i = 0; i < JC_ID_LEN; i++) {
        int hi, lo;

        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (s[o] != '-')
                goto out;
            o++;
        }
        hi = hex_val(s[o]);
        lo = hex_val(s[o + 1]);
        if (hi < 0 || lo < 0)
            goto out;
        tmp[i] = (uint8_t)(hi << 4 | lo);
        o += 2;
    }
    memcpy(id, tmp, JC_ID_LEN);
    rc = 0;
out:
    return rc;
}

uint64_t jc_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void jc_proto_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (errstr == NULL || errstr_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

void jc_proto_repr(const void *p, size_t n, char *out, size_t out_size)
{
    const uint8_t *b = p;
    size_t room = out_size - 1;
    size_t k = 0;

    if (n > room)
        room -= 3; /* leave space for "..." */
    for (; k < n && k < room; k++)
        out[k] = (b[k] >= 0x20 && b[k] <= 0x7e && b[k] != '\'') ? (char)b[k] : '?';
    if (k < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

size_t jc_utf8_char_len(const uint8_t *s, size_t n)
{
    unsigned c;

    if (n == 0)
        return 0;
    c = s[0];
    if (c == 0)
        return 0; /* U+0000: not storable as text by consumers like PostgreSQL */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && s[1] > 0x9f)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && s[1] > 0x8f)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0; /* continuation byte, overlong lead 0xc0/0xc1, or > U+10FFFF */
}

int jc_utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t clen = jc_utf8_char_len(p + i, n - i);
        if (clen == 0)
            return 0;
        i += clen;
    }
    return 1;
}
