/*
 * http.c - health, readiness and metrics over HTTP.
 *
 * libmicrohttpd's defaults have no connection timeout and no per-IP limit,
 * so every limit is set explicitly (connection timeout, total and per-IP
 * connections, memory per connection, thread pool). Requests with a body
 * are refused (none of these routes takes one), so nothing a client sends
 * is buffered beyond the request line and headers.
 *
 *   GET /healthz  200 while the process runs
 *   GET /readyz   200 when PostgreSQL answers and the consumer has
 *                 partitions, else 503 with the reasons
 *   GET /metrics  Prometheus text format: this instance's counters and the
 *                 fleet's gauges read from PostgreSQL
 */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "buf.h"
#include "db.h"
#include "jobcoord/jobcoord.h"
#include "log.h"

struct jc_http {
    const jc_config *cfg;
    jc_runtime *rt;
    struct MHD_Daemon *d;
    pthread_mutex_t db_mu; /* one connection, shared by the pool's threads */
    PGconn *db;
};

// db_get returns a live connection (reconnecting if needed) with db_mu held;
// NULL (lock released) when PostgreSQL cannot be reached.
static PGconn *db_get(jc_http *h)
{
    char err[256];
    pthread_mutex_lock(&h->db_mu);
    if (h->db && PQstatus(h->db) != CONNECTION_OK) {
        PQfinish(h->db);
        h->db = NULL;
    }
    if (!h->db)
        h->db = jc_db_connect(h->cfg->db_conninfo, err, sizeof err);
    if (!h->db) {
        pthread_mutex_unlock(&h->db_mu);
        return NULL;
    }
    return h->db;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *code,
                                   const char *message)
{
    char body[512];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}\n", code, message);
    return reply(c, status, "application/json", body, (size_t)n);
}

// gauge_rows appends one metric family from a query of (label, value) rows.
static void gauge_rows(jc_buf *b, PGconn *db, const char *name, const char *help,
                       const char *label, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    jc_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int i = 0; i < PQntuples(r); i++)
            jc_buf_printf(b, "%s{%s=\"%s\"} %s\n", name, label, PQgetvalue(r, i, 0),
                          PQgetvalue(r, i, 1));
    PQclear(r);
}

static void counter(jc_buf *b, const char *name, const char *help, unsigned long long v)
{
    jc_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

static enum MHD_Result metrics(jc_http *h, struct MHD_Connection *c)
{
    jc_buf b;
    PGconn *db;
    enum MHD_Result ret;

    jc_buf_init(&b, 4u << 20);
    counter(&b, "jobcoord_messages_applied_total", "Messages this instance applied.",
            (unsigned long long)atomic_load(&h->rt->applied));
    counter(&b, "jobcoord_messages_rejected_total", "Messages this instance rejected.",
            (unsigned long long)atomic_load(&h->rt->rejected));
    counter(&b, "jobcoord_ingest_transactions_total", "Ingest transactions committed.",
            (unsigned long long)atomic_load(&h->rt->batches));
    jc_buf_printf(&b,
                  "# HELP jobcoord_assigned_partitions Partitions this instance consumes.\n"
                  "# TYPE jobcoord_assigned_partitions gauge\njobcoord_assigned_partitions %d\n",
                  atomic_load(&h->rt->assigned_partitions));
    jc_buf_printf(&b,
                  "# HELP jobcoord_caught_up 1 when this instance has read all its partitions.\n"
                  "# TYPE jobcoord_caught_up gauge\njobcoord_caught_up %d\n",
                  atomic_load(&h->rt->caught_up_at_ms) != 0);
    db = db_get(h);
    if (db) {
        gauge_rows(&b, db, "jobcoord_jobs", "Jobs by state.", "state",
                   "SELECT s, (SELECT count(*) FROM jobs WHERE state = s) FROM unnest(ARRAY["
                   "'pending','assigned','running','succeeded','failed','canceling','canceled'])"
                   " AS s");
        gauge_rows(&b, db, "jobcoord_workers", "Workers by status.", "status",
                   "SELECT s, (SELECT count(*) FROM workers WHERE status = s)"
                   " FROM unnest(ARRAY['online','offline','draining']) AS s");
        gauge_rows(&b, db, "jobcoord_commands", "Outbox rows by status.", "status",
                   "SELECT s, (SELECT count(*) FROM commands WHERE status = s)"
                   " FROM unnest(ARRAY['pending','sent','acked','failed','done']) AS s");
        gauge_rows(&b, db, "jobcoord_rejections", "Rejected messages (all instances) by reason.",
                   "reason", "SELECT reason, sum(count) FROM rejections GROUP BY reason ORDER BY 1");
        pthread_mutex_unlock(&h->db_mu);
    }
    ret = b.failed ? reply_error(c, 500, "too_large", "metrics do not fit")
                   : reply(c, 200, "text/plain; version=0.0.4", jc_buf_str(&b), b.len);
    jc_buf_free(&b);
    return ret;
}

static enum MHD_Result readyz(jc_http *h, struct MHD_Connection *c)
{
    char body[512];
    int db_ok = 0, assigned = atomic_load(&h->rt->assigned_partitions) > 0, n;
    PGconn *db = db_get(h);
    if (db) {
        PGresult *r = PQexec(db, "SELECT 1");
        db_ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        pthread_mutex_unlock(&h->db_mu);
    }
    n = snprintf(body, sizeof body,
                 "{\"status\":\"%s\",\"postgresql\":%s,\"consumer_assigned\":%s,\"version\":\"%s\"}\n",
                 db_ok && assigned ? "ready" : "not ready", db_ok ? "true" : "false",
                 assigned ? "true" : "false", JC_VERSION_STR);
    return reply(c, db_ok && assigned ? 200 : 503, "application/json", body, (size_t)n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    jc_http *h = cls;
    enum MHD_Result ret;
    unsigned status = 0;
    (void)version;
    (void)upload_data;

    if (*con_cls == NULL) { /* first call: headers only */
        *con_cls = h;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* discard: no route takes a body */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        ret = reply_error(c, 405, "method_not_allowed", "only GET is served here");
        status = 405;
    } else if (strcmp(url, "/healthz") == 0) {
        static const char ok[] = "{\"status\":\"alive\"}\n";
        ret = reply(c, 200, "application/json", ok, sizeof ok - 1);
        status = 200;
    } else if (strcmp(url, "/readyz") == 0) {
        ret = readyz(h, c);
    } else if (strcmp(url, "/metrics") == 0) {
        ret = metrics(h, c);
    } else {
        ret = reply_error(c, 404, "not_found", "no such route");
        status = 404;
    }
    LOG_INFO("http", "%s %s -> %s", method, url,
             status ? (status == 200 ? "200" : status == 404 ? "404" : "405") : "served");
    return ret;
}

jc_http *jc_http_start(const jc_config *cfg, jc_runtime *rt, char *errstr, size_t errstr_size)
{
    jc_http *h = calloc(1, sizeof *h);
    struct sockaddr_in addr;
    char host[64];
    const char *colon = strrchr(cfg->http_listen, ':');
    int port;

    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    port = colon ? atoi(colon + 1) : 0;
    snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - cfg->http_listen) : 0,
             cfg->http_listen);
    if (!colon || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(errstr, errstr_size, "http.listen must be IPv4-address:port, not '%s'",
                 cfg->http_listen);
        free(h);
        return NULL;
    }
    addr.sin_port = htons((uint16_t)port);
    h->cfg = cfg;
    h->rt = rt;
    pthread_mutex_init(&h->db_mu, NULL);
    h->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->http_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->http_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->http_max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->http_max_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->http_memory_limit, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errstr, errstr_size, "cannot listen on %s", cfg->http_listen);
        pthread_mutex_destroy(&h->db_mu);
        free(h);
        return NULL;
    }
    LOG_INFO("http", "listening on %s", cfg->http_listen);
    return h;
}

void jc_http_stop(jc_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    if (h->db)
        PQfinish(h->db);
    pthread_mutex_destroy(&h->db_mu);
    free(h);
}
