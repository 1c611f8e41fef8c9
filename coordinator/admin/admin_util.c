/*
 * admin_util.c - what every jobcoord-admin command shares: errors, strict
 * numbers, the database connection (with the schema version check), the
 * keyring, and output as JSON or aligned text tables.
 *
 * Output from query results is driven by the column types libpq reports:
 * numbers and booleans are written bare in JSON, text arrays become JSON
 * arrays (their PostgreSQL text form is parsed here, one dimension only),
 * everything else is a string escaped by admin_json_str.
 */
#include "admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "db.h"

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

const char *admin_opt_value(const admin_args *a, const char *name)
{
    for (int i = 0; i < ADMIN_MAX_OPTS && a->cmd->opts[i].name; i++) {
        if (strcmp(a->cmd->opts[i].name, name) == 0)
            return a->val[i];
    }
    return NULL;
}

int admin_usage(const admin_args *a, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "jobcoord-admin %s%s%s: ", a->cmd->group ? a->cmd->group : "",
            a->cmd->group ? " " : "", a->cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nUsage: jobcoord-admin %s%s%s %s\n", a->cmd->group ? a->cmd->group : "",
            a->cmd->group ? " " : "", a->cmd->name, a->cmd->synopsis);
    return ADMIN_USAGE;
}

int admin_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("jobcoord-admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
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

int admin_db(admin_ctx *ctx, int check_schema)
{
    char err[512];
    int have, want;

    if (!ctx->db) {
        ctx->db = jc_db_connect(ctx->cfg.db_conninfo, err, sizeof err);
        if (!ctx->db)
            return admin_fail(ADMIN_SYSERR, "%s", err);
        if (jc_db_exec(ctx->db, "SET application_name = 'jobcoord-admin'", err, sizeof err) != 0)
            return admin_fail(ADMIN_SYSERR, "%s", err);
    }
    if (!check_schema)
        return ADMIN_OK;
    have = jc_db_schema_version(ctx->db);
    want = jc_db_latest_version();
    if (have < 0)
        return admin_fail(ADMIN_SYSERR, "cannot read the schema version: %s",
                          PQerrorMessage(ctx->db));
    if (have < want)
        return admin_fail(ADMIN_SYSERR,
                          "the database schema is at version %d, this jobcoord-admin needs %d: "
                          "run jobcoord-admin db migrate",
                          have, want);
    if (have > want)
        fprintf(stderr,
                "jobcoord-admin: warning: the database schema (version %d) is newer than this "
                "jobcoord-admin knows (%d)\n",
                have, want);
    return ADMIN_OK;
}

int admin_exec(admin_ctx *ctx, const char *sql)
{
    char err[512];

    if (jc_db_exec(ctx->db, sql, err, sizeof err) != 0)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    return ADMIN_OK;
}

int admin_end_tx(admin_ctx *ctx, int rc)
{
    if (!ctx->db || PQtransactionStatus(ctx->db) == PQTRANS_IDLE)
        return rc;
    if (rc == ADMIN_OK)
        return admin_exec(ctx, "COMMIT");
    admin_exec(ctx, "ROLLBACK");
    return rc;
}

int admin_snapshot(admin_ctx *ctx)
{
    return admin_exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

int admin_uuid_valid(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return i == 36;
}

int admin_text_valid(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);

    if (len > max)
        return 0;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
                               : (*p & 0xf8) == 0xf0 ? 3 : -1;
        unsigned long cp;

        if (n < 0 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4))
            return 0;
        cp = n ? *p & (0x3f >> n) : *p;
        for (int k = 1; k <= n; k++) {
            if ((p[k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[k] & 0x3f);
        }
        /* overlong three- and four-byte forms, surrogates, beyond U+10FFFF */
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        p += n + 1;
    }
    return 1;
}

int admin_keyring(admin_ctx *ctx, const char *default_id)
{
    char err[512];

    if (ctx->kr)
        return ADMIN_OK;
    ctx->kr = jc_keyring_load(ctx->cfg.keys_file, default_id ? default_id
                              : ctx->cfg.encryption_key_id, err, sizeof err);
    if (!ctx->kr)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    jc_keyring_allow_plaintext(ctx->kr, ctx->cfg.allow_plaintext);
    return ADMIN_OK;
}

int admin_db_keyring(admin_ctx *ctx)
{
    int rc = admin_db(ctx, 1);

    if (rc)
        return rc;
    return admin_keyring(ctx, NULL);
}

int admin_opt_grace(const admin_args *a, long *grace)
{
    const char *text = admin_opt_value(a, "grace");

    if (!text)
        return ADMIN_OK;
    return admin_parse_long("--grace", text, 0, JC_PRINCIPAL_GRACE_MAX, grace);
}

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

void admin_json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void admin_json_kv(FILE *f, int first, const char *key, const char *value)
{
    if (!first)
        fputc(',', f);
    admin_json_str(f, key);
    fputc(':', f);
    admin_json_str(f, value);
}

void admin_json_list(FILE *f, const char *csv)
{
    const char *p = csv;

    fputc('[', f);
    while (p && *p) {
        size_t n = strcspn(p, ",");
        char *item = strndup(p, n);
        if (p != csv)
            fputc(',', f);
        admin_json_str(f, item ? item : "");
        free(item);
        p += n;
        if (*p == ',')
            p++;
    }
    fputc(']', f);
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

/* json_text_array writes a PostgreSQL text[] literal as a JSON array. */
static void json_text_array(FILE *f, const char *literal)
{
    const char *p = literal;
    char *elem;
    int is_null, first = 1;

    fputc('[', f);
    while (array_next(&p, &elem, &is_null)) {
        if (!first)
            fputc(',', f);
        admin_json_str(f, is_null ? NULL : elem);
        free(elem);
        first = 0;
    }
    fputc(']', f);
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

void admin_json_fields(FILE *f, const PGresult *r, int i)
{
    for (int c = 0; c < PQnfields(r); c++) {
        const char *v = PQgetvalue(r, i, c);
        Oid t = PQftype(r, c);

        if (c)
            fputc(',', f);
        admin_json_str(f, PQfname(r, c));
        fputc(':', f);
        if (PQgetisnull(r, i, c))
            fputs("null", f);
        else if (t == OID_BOOL)
            fputs(v[0] == 't' ? "true" : "false", f);
        else if (t == OID_INT2 || t == OID_INT4 || t == OID_INT8 || t == OID_OID ||
                 t == OID_FLOAT4 || t == OID_FLOAT8 || t == OID_NUMERIC || t == OID_JSON ||
                 t == OID_JSONB)
            fputs(v, f);
        else if (t == OID_TEXT_ARRAY)
            json_text_array(f, v);
        else
            admin_json_str(f, v);
    }
}

void admin_json_rows(FILE *f, const PGresult *r)
{
    fputc('[', f);
    for (int i = 0; i < PQntuples(r); i++) {
        fputs(i ? ",{" : "{", f);
        admin_json_fields(f, r, i);
        fputc('}', f);
    }
    fputc(']', f);
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
        admin_json_rows(stdout, r);
        fputc('\n', stdout);
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

int admin_lock_row(admin_ctx *ctx, const char *sql, const char *id, const char *what,
                   PGresult **row)
{
    int rc;

    *row = NULL;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = admin_exec(ctx, "BEGIN");
    if (rc)
        return rc;
    *row = admin_query(ctx, sql, 1, &id);
    if (!*row)
        return ADMIN_SYSERR;
    if (PQntuples(*row) == 0)
        return admin_fail(ADMIN_REFUSED, "no %s '%s'", what, id);
    return ADMIN_OK;
}
