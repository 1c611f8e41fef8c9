/*
 * http_commands.c - GET /v1/commands and /v1/commands/{id}: the outbox
 * (worker commands and job updates) for admins and readers, the read side
 * of `jobcoord-admin command list|show` (the contract: docs/http-api.md).
 *
 * Like the rest of the status API (http_status.c): the route's scope
 * (status:read) is checked by authentication, only the roles that see the
 * whole fleet are served (a client or a worker gets 403), every query
 * parameter is checked (400 for an unknown one or a bad value), the SQL is
 * static text with parameters, and a list is bounded (limit 1-500) and
 * walks the outbox's relay order backwards, newest first.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "http/http_int.h"
#include "jcproto/proto.h"
#include "principals/principals.h"

#define ANSWER_MAX (4u << 20)
#define LIMIT_DEFAULT 50
#define LIMIT_MAX 500

static const char *const statuses[] = {"pending", "sent", "acked", "failed", "done", NULL};
static const char *const kinds[] = {"assign", "cancel",     "drain", "undrain",
                                    "config", "job.update", NULL};

#define COMMAND_COLS \
    "id, kind, recipient, job_id, attempt, status, tries, " JC_SQL_TS("created_at") ","    \
    " " JC_SQL_TS("sent_at") ", " JC_SQL_TS("acked_at") ", " JC_SQL_TS("next_send_at") "," \
    " error, resent_from"
static const struct {
    const char *name;
    char kind; /* as jc_json_pg */
} fields[] = {
    {"id", 's'},          {"kind", 's'},     {"recipient", 's'},    {"job_id", 's'},
    {"attempt", 'n'},     {"status", 's'},   {"tries", 'n'},        {"created_at", 's'},
    {"sent_at", 's'},     {"acked_at", 's'}, {"next_send_at", 's'}, {"error", 's'},
    {"resent_from", 's'}, {"state", 's'},    {"reason", 's'},       {"config_version", 'n'},
    {"settings", 'a'},
};
#define LIST_FIELDS 13 /* the list leaves out what a command carries */
#define SHOW_FIELDS ((int)(sizeof fields / sizeof fields[0]))

/* put_command appends row of res as an object of its first n fields. */
static void put_command(jc_buf *b, const PGresult *res, int row, int n)
{
    jc_buf_addstr(b, "{");
    for (int i = 0; i < n; i++) {
        if (i)
            jc_buf_addstr(b, ",");
        jc_json_str(b, fields[i].name);
        jc_buf_addstr(b, ":");
        jc_json_pg(b, res, row, i, fields[i].kind);
    }
    jc_buf_addstr(b, "}");
}

/* one_of tells whether s is in the NULL-ended list. */
static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

/* admitted_or_reply authenticates the caller, checks the query's names and
 * that the caller sees the whole fleet (admin, reader). Returns 0, or -1
 * after answering. */
static int admitted_or_reply(jc_req *r, const char *const *allowed, enum MHD_Result *ret)
{
    if (jc_req_authenticate(r, ret) != 0 || jc_query_check_or_reply(r, allowed, ret) != 0)
        return -1;
    if (jc_caller_sees_all(&r->caller))
        return 0;
    *ret =
        jc_reply_error(r, 403, "forbidden", "role '%s' may not read %s", r->caller.role, r->route);
    return -1;
}

/* run_or_reply runs sql, or answers 503 (no connection) or 500. */
static PGresult *run_or_reply(jc_req *r, const char *sql, int n, const char *const *params,
                              enum MHD_Result *ret)
{
    PGconn *db = jc_http_db(r->h);
    PGresult *res;

    if (!db) {
        *ret = jc_reply_error(r, 503, "unavailable", "PostgreSQL cannot be reached");
        return NULL;
    }
    res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        LOG_ERROR("http", "GET %s: %s", r->route, PQresultErrorMessage(res));
        PQclear(res);
        *ret = jc_reply_error(r, 500, "internal", "the query failed");
        return NULL;
    }
    return res;
}

/* reply_buf answers 200 with b (500 when it overflowed) and frees it. */
static enum MHD_Result reply_buf(jc_req *r, jc_buf *b)
{
    enum MHD_Result ret;

    if (b->failed)
        ret = jc_reply_error(r, 500, "internal", "the answer is larger than %zu bytes", b->max);
    else
        ret = jc_reply_json(r, 200, b);
    jc_buf_free(b);
    return ret;
}

enum MHD_Result jc_http_commands(jc_req *r)
{
    static const char *const allowed[] = {"worker", "status", "kind", "limit", NULL};
    static const char sql[] =
        "SELECT " COMMAND_COLS
        " FROM commands"
        " WHERE ($1::text IS NULL OR recipient = $1) AND ($2::text IS NULL OR status = $2)"
        "   AND ($3::text IS NULL OR kind = $3)"
        " ORDER BY seq DESC LIMIT $4::int";
    const char *params[4];
    char limit_s[16];
    long limit = LIMIT_DEFAULT;
    enum MHD_Result ret;
    PGresult *res;
    jc_buf b;

    if (admitted_or_reply(r, allowed, &ret) != 0)
        return ret;
    params[0] = jc_req_query(r, "worker");
    params[1] = jc_req_query(r, "status");
    params[2] = jc_req_query(r, "kind");
    if (params[0] && !jc_principal_name_valid(params[0]))
        return jc_reply_error(r, 400, "bad_request", "worker: 1-64 of A-Z a-z 0-9 . _ : @ -");
    if (params[1] && !one_of(params[1], statuses))
        return jc_reply_error(r, 400, "bad_request",
                              "status: one of pending, sent, acked, failed, done");
    if (params[2] && !one_of(params[2], kinds))
        return jc_reply_error(r, 400, "bad_request",
                              "kind: one of assign, cancel, drain, undrain, config, job.update");
    if (jc_req_query(r, "limit") &&
        jc_query_uint(jc_req_query(r, "limit"), 1, LIMIT_MAX, &limit) != 0)
        return jc_reply_error(r, 400, "bad_request", "limit: an integer 1..%d", LIMIT_MAX);
    snprintf(limit_s, sizeof limit_s, "%ld", limit);
    params[3] = limit_s;
    res = run_or_reply(r, sql, 4, params, &ret);
    if (!res)
        return ret;
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_addstr(&b, "{\"commands\":[");
    for (int i = 0; i < PQntuples(res); i++) {
        if (i)
            jc_buf_addstr(&b, ",");
        put_command(&b, res, i, LIST_FIELDS);
    }
    jc_buf_addstr(&b, "]}");
    PQclear(res);
    return reply_buf(r, &b);
}

enum MHD_Result jc_http_command(jc_req *r)
{
    static const char *const none[] = {NULL};
    static const char sql[] = "SELECT " COMMAND_COLS
                              ", state, reason, config_version, settings"
                              " FROM commands WHERE id = $1::uuid";
    const char *params[1] = {r->arg};
    enum MHD_Result ret;
    PGresult *res;
    jc_buf b;

    if (admitted_or_reply(r, none, &ret) != 0)
        return ret;
    if (!jc_id_text_valid(r->arg))
        return jc_reply_error(r, 400, "bad_request", "id: a command id is a UUID");
    res = run_or_reply(r, sql, 1, params, &ret);
    if (!res)
        return ret;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return jc_reply_error(r, 404, "not_found", "no such command");
    }
    jc_buf_init(&b, ANSWER_MAX);
    put_command(&b, res, 0, SHOW_FIELDS);
    PQclear(res);
    return reply_buf(r, &b);
}
