/* bench_stats.c - clocks, latency percentiles, and reading the
 * coordinator's progress from PostgreSQL. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define LAT_MAX (64u << 20) /* samples kept; more are dropped */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void lat_add(lat_hist *h, int64_t us)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4096;
        int64_t *v;
        if (cap > LAT_MAX)
            return;
        v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = us;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

double lat_pct(lat_hist *h, double q)
{
    size_t i;
    if (h->n == 0)
        return -1;
    qsort(h->v, h->n, sizeof *h->v, cmp_i64);
    i = (size_t)(q * (double)(h->n - 1) + 0.5);
    return (double)h->v[i < h->n ? i : h->n - 1] / 1000.0;
}

void lat_free(lat_hist *h)
{
    free(h->v);
    memset(h, 0, sizeof *h);
}

int64_t applied_offsets(PGconn *db, const char *group, const char *topic)
{
    const char *params[2] = {group, topic};
    PGresult *r = PQexecParams(db,
                               "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"
                               " WHERE consumer_group = $1 AND topic = $2",
                               2, NULL, params, NULL, NULL, 0);
    int64_t v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}
