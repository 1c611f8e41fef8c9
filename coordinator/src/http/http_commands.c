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

#include "core/json_out.h"
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
static const jc_json_field fields[] = {
    {"id", 's'},          {"kind", 's'},     {"recipient", 's'},    {"job_id", 's'},
    {"attempt", 'n'},     {"status", 's'},   {"tries", 'n'},        {"created_at", 's'},
    {"sent_at", 's'},     {"acked_at", 's'}, {"next_send_at", 's'}, {"error", 's'},
    {"resent_from", 's'}, {"state", 's'},    {"reason", 's'},       {"config_version", 'n'},
    {"settings", 'a'},
};
#define LIST_FIELDS 13 /* the list leaves out what a command carries */
#define SHOW_FIELDS (sizeof fields / sizeof fields[0])

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

/* reply_doc answers 200 with doc written through jc_json_dump (500 when it
 * could not be made, or is larger than the answer's maximum). Takes doc. */
static enum MHD_Result reply_doc(jc_req *r, json_t *doc)
{
    enum MHD_Result ret;
    jc_buf b;

    jc_buf_init(&b, ANSWER_MAX);
    if (jc_json_dump(&b, doc) != 0)
        ret = jc_reply_error(r, 500, "internal", "the answer could not be written");
    else
        ret = jc_reply_json(r, 200, &b);
    jc_buf_free(&b);
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
    json_t *list;

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
    list = json_array();
    for (int i = 0; list && i < PQntuples(res); i++)
        if (json_array_append_new(list, jc_json_pg_object(res, i, 0, fields, LIST_FIELDS)) != 0) {
            json_decref(list);
            list = NULL;
        }
    PQclear(res);
    return reply_doc(r, list ? json_pack("{s:o}", "commands", list) : NULL);
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
    json_t *doc;

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
    doc = jc_json_pg_object(res, 0, 0, fields, SHOW_FIELDS);
    PQclear(res);
    return reply_doc(r, doc);
}
