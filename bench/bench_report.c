/*
 * bench_report.c - docs/performance.md: the machine, the database's
 * durability settings, the exact command line and the figures. Only the
 * part between the BENCH RUN markers is replaced; the rest of the page
 * (bench/compare's section, the analysis written by hand) is kept. A page
 * without the markers is written whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MARK_BEGIN "<!-- BEGIN BENCH RUN (written by jobcoord-bench) -->\n"
#define MARK_END "<!-- END BENCH RUN -->\n"

// read_all returns the contents of path (NUL-terminated, malloc'd), or NULL.
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    if (!f)
        return NULL;
    for (;;) {
        if (cap - n < 4096) {
            char *b = realloc(buf, cap = cap * 2 + 8192);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

// splice writes path as its old text with the part between the markers
// replaced by body, or as a whole new page when the markers are missing.
static int splice(const char *path, const char *body)
{
    char *old = read_all(path);
    const char *b = old ? strstr(old, MARK_BEGIN) : NULL;
    const char *e = b ? strstr(b, MARK_END) : NULL;
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        free(old);
        return -1;
    }
    if (e)
        fprintf(f, "%.*s%s%s%s", (int)(b - old), old, MARK_BEGIN, body, e);
    else
        fprintf(f, "# Performance\n\n"
                   "Written by `jobcoord-bench` (bench/README.md explains the scenarios; "
                   "`bench/run` reproduces the run). Targets: 50,000 heartbeats/s at bounded lag; jobs at least as fast as graphile-worker batched (bench/compare).\n\n"
                   "%s%s%s", MARK_BEGIN, body, MARK_END);
    free(old);
    return fclose(f) == 0 ? 0 : -1;
}

// proc_field copies the value of the first "name<sep>value" line of a /proc
// file.
static void proc_field(const char *path, const char *name, char *out, size_t out_size)
{
    FILE *f = fopen(path, "r");
    char line[512];
    snprintf(out, out_size, "unknown");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon;
        if (strncmp(line, name, strlen(name)) != 0 || !(colon = strchr(line, ':')))
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, out_size, "%s", colon);
        break;
    }
    fclose(f);
}

static void show(PGconn *db, const char *setting, char *out, size_t out_size)
{
    char sql[128];
    PGresult *r;
    snprintf(sql, sizeof sql, "SHOW %s", setting);
    r = PQexec(db, sql);
    snprintf(out, out_size, "%s",
             PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "unknown");
    PQclear(r);
}

static void ms(FILE *f, double v)
{
    if (v < 0)
        fprintf(f, " n/a |");
    else
        fprintf(f, " %.1f |", v);
}

static void jobs_rows(FILE *f, const char *name, const jobs_result *j)
{
    fprintf(f, "| %s | %.0f | %.0f | %.0f | %s |", name, j->offered_rate, j->submitted_rate,
            j->completed_rate, j->kept_up ? "yes" : "**no**");
    ms(f, j->assign_p50);
    ms(f, j->assign_p99);
    ms(f, j->done_p50);
    ms(f, j->done_p99);
    fprintf(f, " %lld / %lld / %lld |\n", (long long)j->submitted, (long long)j->completed,
            (long long)j->incomplete);
}

int report_write(const bench_opts *o, const hb_result *hb, int n_hb, const jobs_result *jobs,
                 const jobs_result *lat)
{
    char cpu[256], mem[64], pgver[128] = "unknown", fsync[32] = "unknown", sync[32] = "unknown";
    char date[64];
    time_t now = time(NULL);
    PGconn *db;
    FILE *f;
    char *body = NULL;
    size_t body_len = 0;
    int rc;

    if (!o->out || !*o->out)
        return 0;
    proc_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    proc_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    db = PQconnectdb(o->db);
    if (PQstatus(db) == CONNECTION_OK) {
        show(db, "server_version", pgver, sizeof pgver);
        show(db, "fsync", fsync, sizeof fsync);
        show(db, "synchronous_commit", sync, sizeof sync);
    }
    PQfinish(db);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    f = open_memstream(&body, &body_len);
    if (!f) {
        perror("open_memstream");
        return -1;
    }
    fprintf(f, "## Run\n\n");
    fprintf(f, "- date: %s\n", date);
    fprintf(f, "- machine: %ld CPUs (%s), %s memory\n", sysconf(_SC_NPROCESSORS_ONLN), cpu, mem);
    fprintf(f, "- PostgreSQL %s, fsync=%s, synchronous_commit=%s%s\n", pgver, fsync, sync,
            strcmp(fsync, "on") == 0 && strcmp(sync, "on") == 0
                ? ""
                : " (**not durable: these figures are not comparable**)");
    fprintf(f, "- everything on this machine: PostgreSQL, the mock Kafka cluster, the "
               "coordinator and the benchmark share its CPUs\n");
    fprintf(f, "- command: `%s`\n", o->cmdline);
    if (o->setup && *o->setup)
        fprintf(f, "- set-up: %s\n", o->setup);
    if (n_hb > 0) {
        fprintf(f, "\n## Heartbeats\n\n%d simulated workers, each heartbeat signed "
                   "(HMAC-SHA256). Applied = the coordinator's committed positions in "
                   "`consumer_offsets`; lag = topic end offsets minus those positions.\n\n",
                o->hb_workers);
        fprintf(f, "| offered /s | produced /s | applied /s | lag at end | max lag | "
                   "bounded lag | notes |\n| --- | --- | --- | --- | --- | --- | --- |\n");
        for (int i = 0; i < n_hb; i++)
            fprintf(f, "| %.0f | %.0f | %.0f | %lld | %lld | %s | %s |\n", hb[i].offered_rate,
                    hb[i].produced_rate, hb[i].applied_rate, (long long)hb[i].lag_end,
                    (long long)hb[i].lag_max, hb[i].bounded ? "yes" : "**no**", hb[i].note);
    }
    if (jobs || lat) {
        fprintf(f, "\n## Jobs\n\n%d no-op workers (%d slots each), %d clients. A worker "
                   "answers each assign command with one signed `job.event` \"succeeded\" "
                   "carrying the command id. Assigned = the worker received the assign "
                   "command; completed = the client received `job.update` \"succeeded\". "
                   "Latencies in ms, for jobs submitted after the warm-up.\n\n",
                o->job_workers, o->job_slots, o->clients);
        fprintf(f, "| scenario | offered /s | submitted /s | completed /s | kept up | "
                   "assigned p50 | assigned p99 | completed p50 | completed p99 | "
                   "submitted / completed / incomplete |\n"
                   "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        if (jobs)
            jobs_rows(f, "jobs", jobs);
        if (lat)
            jobs_rows(f, "latency", lat);
        fprintf(f, "\n");
        if (jobs)
            fprintf(f, "- jobs: job states in PostgreSQL at the end: %s. %s\n",
                    *jobs->db_states ? jobs->db_states : "none", jobs->note);
        if (lat)
            fprintf(f, "- latency: job states in PostgreSQL at the end: %s. %s\n",
                    *lat->db_states ? lat->db_states : "none", lat->note);
    }
    fclose(f);
    rc = splice(o->out, body);
    free(body);
    return rc;
}
