/*
 * admin_output.c - jobcoord-admin's output, as JSON or aligned text tables.
 *
 * JSON is written with jansson: results become trees (admin_json_row,
 * admin_json_result) driven by the column types libpq reports: numbers and
 * booleans are JSON numbers and booleans, json and jsonb their documents,
 * text arrays arrays (core/json_out.c reads their PostgreSQL text form),
 * everything else a string. admin_json_print writes a tree. The older
 * helpers that write one member or value at a time (admin_json_str,
 * admin_json_kv, ...) write each value with jansson too.
 */
#include "admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/db.h"
#include "core/json_out.h"

/* PostgreSQL type oids (catalog/pg_type.h, stable across versions). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_OID 26
#define OID_JSON 114
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_TEXT_ARRAY 1009
#define OID_NUMERIC 1700
#define OID_JSONB 3802

#define TABLE_MAX_COLS 16

void admin_print_done(const admin_ctx *ctx, const char *id, const char *json_rest,
                      const char *fmt, ...)
{
    va_list ap;

    if (ctx->json) {
        fputc('{', stdout);
        admin_json_kv(stdout, 1, "id", id);
        fputs(json_rest, stdout);
        return;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

PGresult *admin_query(admin_ctx *ctx, const char *sql, int nparams, const char *const *params)
{
    char err[512];
    PGresult *r = PQexecParams(ctx->db, sql, nparams, NULL, params, NULL, NULL, 0);

    if (!jc_db_ok(ctx->db, r, err, sizeof err)) {
        admin_fail(ADMIN_SYSERR, "%s", err);
        PQclear(r);
        return NULL;
    }
    return r;
}


void admin_b64(const unsigned char *bin, size_t len, char *out, size_t out_size)
{
    sodium_bin2base64(out, out_size, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

// put_value writes v (taken; NULL: an allocation failed) to f, compact.
// json_dumpf allocates nothing while it writes (no sorted keys), so what
// reaches f is whole, and no copy of a secret is left in freed memory.
// Returns 0, or -1 after saying why on stderr.
static int put_value(FILE *f, json_t *v)
{
    int rc = v ? json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY) : -1;

    if (rc != 0)
        fputs("jobcoord-admin: cannot write JSON (out of memory)\n", stderr);
    json_decref(v);
    return rc;
}

void admin_json_str(FILE *f, const char *s)
{
    put_value(f, s ? jc_json_text(s) : json_null());
}

void admin_json_kv(FILE *f, int first, const char *key, const char *value)
{
    if (!first)
        fputc(',', f);
    admin_json_str(f, key);
    fputc(':', f);
    admin_json_str(f, value);
}

json_t *admin_json_csv(const char *csv)
{
    json_t *a = json_array();
    const char *p = csv;

    while (a && p && *p) {
        size_t n = strcspn(p, ",");
        char *item = strndup(p, n);
        json_t *v = item ? jc_json_text(item) : NULL;
        free(item);
        if (json_array_append_new(a, v) != 0) {
            json_decref(a);
            a = NULL;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return a;
}

void admin_json_list(FILE *f, const char *csv)
{
    put_value(f, admin_json_csv(csv));
}

/* array_next reads the next element of a PostgreSQL one-dimensional array
 * literal ("{a,\"b c\",NULL}") from *p into a malloc'd string (NULL for a
 * NULL element, *is_null set). Returns 0 at the end, 1 for an element. */
static int array_next(const char **p, char **elem, int *is_null)
{
    const char *s = *p;
    size_t cap = strlen(s) + 1, n = 0;
    char *out;

    *elem = NULL;
    *is_null = 0;
    if (*s == '{' || *s == ',')
        s++;
    if (*s == '}' || *s == '\0')
        return 0;
    out = malloc(cap);
    if (!out)
        return 0;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++) {
            if (*s == '\\' && s[1])
                s++;
            out[n++] = *s;
        }
        if (*s == '"')
            s++;
    } else {
        while (*s && *s != ',' && *s != '}')
            out[n++] = *s++;
        *is_null = n == 4 && strncmp(out, "NULL", 4) == 0;
    }
    out[n] = '\0';
    *p = s;
    *elem = out;
    return 1;
}

/* text_array_csv turns a PostgreSQL text[] literal into "a,b" (malloc'd). */
static char *text_array_csv(const char *literal)
{
    const char *p = literal;
    char *elem, *out = calloc(1, strlen(literal) + 1);
    size_t n = 0;
    int is_null;

    if (!out)
        return NULL;
    while (array_next(&p, &elem, &is_null)) {
        n += (size_t)sprintf(out + n, "%s%s", n ? "," : "", elem);
        free(elem);
    }
    return out;
}

// cell_value returns column c of row i as a JSON value by its type, or
// NULL when an allocation failed.
static json_t *cell_value(const PGresult *r, int i, int c)
{
    Oid t = PQftype(r, c);

    if (PQgetisnull(r, i, c))
        return json_null();
    switch (t) {
    case OID_BOOL: return jc_json_pg_value(r, i, c, 'b');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC: return jc_json_pg_value(r, i, c, 'n');
    case OID_JSON:
    case OID_JSONB: return json_loads(PQgetvalue(r, i, c), JSON_DECODE_ANY, NULL);
    case OID_TEXT_ARRAY: return jc_json_pg_value(r, i, c, 'a');
    default: return jc_json_text(PQgetvalue(r, i, c));
    }
}

json_t *admin_json_row(const PGresult *r, int i)
{
    json_t *o = json_object();

    for (int c = 0; o && c < PQnfields(r); c++)
        if (json_object_set_new(o, PQfname(r, c), cell_value(r, i, c)) != 0) {
            json_decref(o);
            o = NULL;
        }
    return o;
}

json_t *admin_json_result(const PGresult *r)
{
    json_t *a = json_array();

    for (int i = 0; a && i < PQntuples(r); i++)
        if (json_array_append_new(a, admin_json_row(r, i)) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

int admin_json_print(json_t *doc)
{
    if (!doc)
        return admin_fail(ADMIN_SYSERR, "out of memory writing JSON");
    if (put_value(stdout, doc) != 0)
        return ADMIN_SYSERR;
    fputc('\n', stdout);
    return ADMIN_OK;
}

int admin_json_print_row_with(const PGresult *row, const char *key, const PGresult *list)
{
    json_t *doc = admin_json_row(row, 0);

    if (doc && json_object_set_new(doc, key, admin_json_result(list)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    return admin_json_print(doc);
}

void admin_json_fields(FILE *f, const PGresult *r, int i)
{
    json_t *o = admin_json_row(r, i);
    const char *key;
    json_t *v;
    int first = 1;

    /* the members without the braces around them */
    if (!o)
        fputs("jobcoord-admin: cannot write JSON (out of memory)\n", stderr);
    json_object_foreach (o, key, v) {
        if (!first)
            fputc(',', f);
        first = 0;
        put_value(f, json_string(key));
        fputc(':', f);
        put_value(f, json_incref(v));
    }
    json_decref(o);
}

void admin_json_rows(FILE *f, const PGresult *r)
{
    put_value(f, admin_json_result(r));
}

struct admin_table {
    int ncols;
    char **cells; /* row-major, the headers first */
    size_t nrows; /* including the header row */
    size_t cap;
};

admin_table *admin_table_new(int ncols, const char *const *headers)
{
    admin_table *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->ncols = ncols > TABLE_MAX_COLS ? TABLE_MAX_COLS : ncols;
    admin_table_add(t, headers);
    return t;
}

void admin_table_add(admin_table *t, const char *const *cells)
{
    if (!t)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **grown = realloc(t->cells, cap * (size_t)t->ncols * sizeof *grown);
        if (!grown)
            return;
        t->cells = grown;
        t->cap = cap;
    }
    for (int c = 0; c < t->ncols; c++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = strdup(cells[c] ? cells[c] : "-");
    t->nrows++;
}

void admin_table_print(FILE *f, const admin_table *t)
{
    size_t width[TABLE_MAX_COLS] = {0};

    if (!t)
        return;
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            size_t n = s ? strlen(s) : 0;
            if (n > width[c])
                width[c] = n;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                fprintf(f, "%s\n", s ? s : "");
            else
                fprintf(f, "%-*s  ", (int)width[c], s ? s : "");
        }
    }
}

void admin_table_free(admin_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* cell_text gives the text form of a result cell: "-" for NULL or empty
 * (so that columns stay countable), arrays comma-separated. *owned is set
 * when the caller must free it. */
static const char *cell_text(const PGresult *r, int i, int c, char **owned)
{
    *owned = NULL;
    if (PQgetisnull(r, i, c) || PQgetlength(r, i, c) == 0)
        return "-";
    if (PQftype(r, c) == OID_TEXT_ARRAY) {
        *owned = text_array_csv(PQgetvalue(r, i, c));
        return !*owned ? "?" : **owned ? *owned : "-";
    }
    return PQgetvalue(r, i, c);
}

void admin_print_result(FILE *f, const PGresult *r)
{
    int ncols = PQnfields(r);
    const char *cells[TABLE_MAX_COLS];
    char *headers[TABLE_MAX_COLS];
    char *owned[TABLE_MAX_COLS];
    admin_table *t;

    if (PQntuples(r) == 0) {
        fputs("(none)\n", f);
        return;
    }
    if (ncols > TABLE_MAX_COLS)
        ncols = TABLE_MAX_COLS;
    for (int c = 0; c < ncols; c++) {
        headers[c] = strdup(PQfname(r, c));
        for (char *p = headers[c]; p && *p; p++)
            *p = (char)toupper((unsigned char)*p);
        cells[c] = headers[c];
    }
    t = admin_table_new(ncols, cells);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int c = 0; c < ncols; c++)
            cells[c] = cell_text(r, i, c, &owned[c]);
        admin_table_add(t, cells);
        for (int c = 0; c < ncols; c++)
            free(owned[c]);
    }
    admin_table_print(f, t);
    admin_table_free(t);
    for (int c = 0; c < ncols; c++)
        free(headers[c]);
}

void admin_print_rows(const admin_ctx *ctx, const PGresult *r)
{
    if (ctx->json) {
        admin_json_print(admin_json_result(r));
    } else {
        admin_print_result(stdout, r);
    }
}

int admin_record_width(const PGresult *r)
{
    int width = 0;

    for (int c = 0; c < PQnfields(r); c++) {
        int n = (int)strlen(PQfname(r, c));
        if (n > width)
            width = n;
    }
    return width;
}

void admin_print_field(FILE *f, int width, const char *name, const char *value)
{
    fprintf(f, "%-*s  %s\n", width, name, value);
}

void admin_print_record(FILE *f, const PGresult *r, int i)
{
    int width = admin_record_width(r);

    for (int c = 0; c < PQnfields(r); c++) {
        char *owned;
        admin_print_field(f, width, PQfname(r, c), cell_text(r, i, c, &owned));
        free(owned);
    }
}
