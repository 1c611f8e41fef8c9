/*
 * http_audit.c - the audit trail over HTTP: the entries the HTTP surface
 * writes (jc_req_audit: logins, refreshes, revocations, with the client's
 * address) and GET /v1/audit, which reads the trail (admins only; the
 * contract: docs/http-api.md).
 *
 * GET /v1/audit pages newest first by id; the cursor is base64url (no
 * padding) of a version byte and the id (int64, big-endian) of the page's
 * last entry, and the next page starts strictly below it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "core/audit.h"
#include "core/log.h"
#include "http/http_int.h"
#include "jcproto/proto.h"

#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 500
#define AUDIT_CURSOR_VERSION 0x41
#define AUDIT_CURSOR_BYTES 9
#define ANSWER_MAX (4u << 20)

void jc_req_address(jc_req *r, char *out, size_t out_size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)out_size);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)out_size);
}

void jc_req_audit(jc_req *r, PGconn *db, const char *actor, const char *action, const char *target,
                  jc_audit_outcome outcome, const char *detail)
{
    char address[64], err[256];
    jc_audit_entry e;

    if (!db)
        return;
    jc_req_address(r, address, sizeof address);
    memset(&e, 0, sizeof e);
    e.actor_kind = "principal";
    e.actor = actor && actor[0] ? actor : "(unknown)";
    e.action = action;
    e.target = target;
    e.outcome = outcome;
    e.address = address[0] ? address : NULL;
    e.detail = detail;
    if (jc_audit_record(db, &e, err, sizeof err) != 0)
        LOG_ERROR("http", "%s of '%s': the audit entry was not written: %s", action, e.actor, err);
}

/* ---- GET /v1/audit ---- */

static void cursor_encode(long long id, char *out, size_t out_size)
{
    unsigned char raw[AUDIT_CURSOR_BYTES];
    uint64_t u = (uint64_t)id;
    raw[0] = AUDIT_CURSOR_VERSION;
    for (int i = 0; i < 8; i++)
        raw[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    sodium_bin2base64(out, out_size, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int cursor_decode(const char *s, char *id_text, size_t id_size)
{
    unsigned char raw[AUDIT_CURSOR_BYTES];
    size_t len = 0;
    uint64_t u = 0;
    if (strlen(s) != sodium_base64_ENCODED_LEN(AUDIT_CURSOR_BYTES,
                                               sodium_base64_VARIANT_URLSAFE_NO_PADDING) -
                         1 ||
        sodium_base642bin(raw, sizeof raw, s, strlen(s), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != AUDIT_CURSOR_BYTES || raw[0] != AUDIT_CURSOR_VERSION)
        return -1;
    for (int i = 0; i < 8; i++)
        u = u << 8 | raw[1 + i];
    if (u > (uint64_t)INT64_MAX)
        return -1;
    snprintf(id_text, id_size, "%lld", (long long)u);
    return 0;
}

static int text_filter_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= JC_AUDIT_TARGET_MAX && jc_utf8_valid((const uint8_t *)s, n);
}

// set_member sets key of o to v (taking v; NULL: a failed allocation).
// Returns 1, or 0 when it could not.
static int set_member(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) == 0;
}

enum MHD_Result jc_http_audit(jc_req *r)
{
    static const char *const allowed[] = {"actor", "target", "action", "since",
                                          "limit", "cursor", NULL};
    static const char sql[] =
        "SELECT id, " JC_SQL_TS("at") ", actor_kind, actor, action, target, outcome, address,"
        " detail FROM audit_log"
        " WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR target = $2)"
        "   AND ($3::text IS NULL OR action = $3)"
        "   AND ($4::bigint IS NULL OR at >= to_timestamp($4::bigint / 1000000.0))"
        "   AND ($5::bigint IS NULL OR id < $5::bigint)"
        " ORDER BY id DESC LIMIT $6::int + 1";
    static const jc_json_field fields[] = {
        {"id", 'n'},     {"at", 's'},      {"actor_kind", 's'}, {"actor", 's'},  {"action", 's'},
        {"target", 's'}, {"outcome", 's'}, {"address", 's'},    {"detail", 's'},
    };
    const char *params[6] = {NULL};
    const char *since, *limit_s, *cursor;
    char since_text[32], cursor_id[32], limit_text[16];
    long limit = AUDIT_LIMIT_DEFAULT;
    int64_t since_us;
    enum MHD_Result ret;
    PGconn *db;
    PGresult *res;
    json_t *doc, *entries;
    char next[32] = "";
    jc_buf b;
    int n, ok;

    if (jc_req_authenticate(r, &ret) != 0 || jc_query_check_or_reply(r, allowed, &ret) != 0)
        return ret;
    if (strcmp(r->caller.role, "admin") != 0)
        return jc_reply_error(r, 403, "forbidden", "role '%s' may not read the audit trail",
                              r->caller.role);
    params[0] = jc_req_query(r, "actor");
    params[1] = jc_req_query(r, "target");
    params[2] = jc_req_query(r, "action");
    since = jc_req_query(r, "since");
    limit_s = jc_req_query(r, "limit");
    cursor = jc_req_query(r, "cursor");
    if (params[0] && !text_filter_valid(params[0]))
        return jc_reply_error(r, 400, "bad_request", "actor must be 1..%d bytes of UTF-8",
                              JC_AUDIT_TARGET_MAX);
    if (params[1] && !text_filter_valid(params[1]))
        return jc_reply_error(r, 400, "bad_request", "target must be 1..%d bytes of UTF-8",
                              JC_AUDIT_TARGET_MAX);
    if (params[2] && !jc_audit_action_known(params[2]))
        return jc_reply_error(
            r, 400, "bad_request",
            "action is not one of the audit trail's actions (docs/operations.md)");
    if (since) {
        if (jc_query_time(since, &since_us) != 0)
            return jc_reply_error(r, 400, "bad_request",
                                  "since must be an RFC 3339 time or epoch seconds");
        snprintf(since_text, sizeof since_text, "%lld", (long long)since_us);
        params[3] = since_text;
    }
    if (cursor) {
        if (cursor_decode(cursor, cursor_id, sizeof cursor_id) != 0)
            return jc_reply_error(r, 400, "bad_request",
                                  "cursor is not one this server gave (use next_cursor as is)");
        params[4] = cursor_id;
    }
    if (limit_s && jc_query_uint(limit_s, 1, AUDIT_LIMIT_MAX, &limit) != 0)
        return jc_reply_error(r, 400, "bad_request", "limit must be an integer 1..%d",
                              AUDIT_LIMIT_MAX);
    snprintf(limit_text, sizeof limit_text, "%ld", limit);
    params[5] = limit_text;
    db = jc_http_db(r->h);
    if (!db)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL cannot be reached");
    res = PQexecParams(db, sql, 6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        LOG_ERROR("http", "GET /v1/audit: %s", PQresultErrorMessage(res));
        PQclear(res);
        return jc_reply_error(r, 500, "internal", "the query failed");
    }
    n = PQntuples(res) < limit ? PQntuples(res) : (int)limit;
    if (PQntuples(res) > limit)
        cursor_encode(strtoll(PQgetvalue(res, n - 1, 0), NULL, 10), next, sizeof next);
    doc = json_object();
    entries = json_array();
    ok = set_member(doc, "entries", entries) &
         set_member(doc, "next_cursor", next[0] ? json_string(next) : json_null());
    for (int i = 0; ok && i < n; i++)
        ok = json_array_append_new(entries, jc_json_pg_object(res, i, 0, fields,
                                                              sizeof fields / sizeof fields[0])) ==
             0;
    jc_buf_init(&b, ANSWER_MAX);
    if (!ok) {
        json_decref(doc);
        b.failed = 1;
    } else if (jc_json_dump(&b, doc) != 0) {
        b.failed = 1;
    }
    PQclear(res);
    if (b.failed)
        ret = jc_reply_error(r, 500, "internal",
                             "the answer is larger than %zu bytes (or out of memory)", b.max);
    else
        ret = jc_reply_json(r, 200, &b);
    jc_buf_free(&b);
    return ret;
}
