/*
 * json_out.c - writing JSON (see json_out.h): PostgreSQL rows as jansson
 * values for the status API and the audit trail, documents built with
 * jansson appended whole to a jc_buf, and the token endpoint's strings
 * written by hand.
 */
#include "core/json_out.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jcproto/proto.h"


void jc_json_strn(jc_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    jc_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[6];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            jc_buf_add(b, esc, 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            jc_buf_add(b, esc, 6);
        } else {
            jc_buf_add(b, &s[i], 1);
        }
    }
    jc_buf_add(b, "\"", 1);
}

void jc_json_str(jc_buf *b, const char *s)
{
    jc_json_strn(b, s, strlen(s));
}

/* pg_array_value turns a one-dimensional text[] literal ({a,"b c",NULL})
 * into a JSON array of strings (NULL elements become null). Returns NULL
 * when an allocation fails or an element is not UTF-8. */
static json_t *pg_array_value(const char *v)
{
    json_t *a = json_array();
    const char *p = v;
    char *e = malloc(strlen(v) + 1); /* an element, unquoted */

    if (!a || !e)
        goto fail;
    if (*p == '{')
        p++;
    while (*p && *p != '}') {
        json_t *item;
        if (*p == '"') {
            size_t n = 0;
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                e[n++] = *p++;
            }
            if (*p == '"')
                p++;
            item = json_stringn(e, n);
        } else {
            const char *st = p;
            while (*p && *p != ',' && *p != '}')
                p++;
            if (p - st == 4 && strncmp(st, "NULL", 4) == 0)
                item = json_null();
            else
                item = json_stringn(st, (size_t)(p - st));
        }
        if (json_array_append_new(a, item) != 0)
            goto fail;
        if (*p == ',')
            p++;
    }
    free(e);
    return a;
fail:
    free(e);
    json_decref(a);
    return NULL;
}

// pg_number turns PostgreSQL's text of a number into a JSON integer, or a
// real when it is not an integer (NULL when it is neither).
static json_t *pg_number(const char *v)
{
    char *end;
    long long i;
    double d;

    errno = 0;
    i = strtoll(v, &end, 10);
    if (*v && !*end && errno == 0)
        return json_integer((json_int_t)i);
    d = strtod(v, &end);
    if (*v && !*end && isfinite(d))
        return json_real(d);
    return NULL;
}

json_t *jc_json_pg_value(const PGresult *r, int row, int col, char kind)
{
    const char *v;

    if (PQgetisnull(r, row, col))
        return json_null();
    v = PQgetvalue(r, row, col);
    switch (kind) {
    case 'n': return pg_number(v);
    case 'b': return json_boolean(v[0] == 't');
    case 'a': return pg_array_value(v);
    default: return json_stringn(v, (size_t)PQgetlength(r, row, col));
    }
}

int jc_json_pg_fields(json_t *obj, const PGresult *r, int row, int col0, const jc_json_field *f,
                      size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (json_object_set_new(obj, f[i].name,
                                jc_json_pg_value(r, row, col0 + (int)i, f[i].kind)) != 0)
            return -1;
    return 0;
}

json_t *jc_json_pg_object(const PGresult *r, int row, int col0, const jc_json_field *f, size_t n)
{
    json_t *o = json_object();

    if (o && jc_json_pg_fields(o, r, row, col0, f, n) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

json_t *jc_json_text(const char *s)
{
    size_t n = strlen(s), len;
    char *clean;
    json_t *v;

    if (jc_utf8_valid((const uint8_t *)s, n))
        return json_stringn(s, n);
    clean = malloc(n + 1);
    if (!clean)
        return NULL;
    for (size_t i = 0; i < n; i += len) {
        len = jc_utf8_char_len((const uint8_t *)s + i, n - i);
        if (len == 0) {
            clean[i] = '?';
            len = 1;
        } else {
            memcpy(clean + i, s + i, len);
        }
    }
    v = json_stringn(clean, n);
    free(clean);
    return v;
}

// add_dumped is jansson's output callback: it appends to the jc_buf, whose
// failure is sticky. jansson 2.14 ignores the result of writing an
// object's key (dump.c), so that text written with json_dumps after an
// allocation failed there can be a document with a quote missing
// (test_falloc found it): whether the text is whole is read from the
// buffer's flag, never from jansson's return alone.
static int add_dumped(const char *p, size_t n, void *b)
{
    return jc_buf_add(b, p, n);
}

// dump appends v to b, compact (flags: jansson's, added). Returns 0, or -1
// with b->failed set.
static int dump(jc_buf *b, const json_t *v, size_t flags)
{
    if (json_dump_callback(v, add_dumped, b, JSON_COMPACT | flags) != 0 || b->failed) {
        b->failed = 1;
        return -1;
    }
    return 0;
}

void jc_json_pg(jc_buf *b, const PGresult *r, int row, int col, char kind)
{
    json_t *v = jc_json_pg_value(r, row, col, kind);

    if (!v)
        b->failed = 1;
    else
        dump(b, v, JSON_ENCODE_ANY);
    json_decref(v);
}

int jc_json_dump(jc_buf *b, json_t *doc)
{
    int rc;

    if (!doc)
        return -1;
    rc = dump(b, doc, 0);
    json_decref(doc);
    return rc;
}

char *jc_json_dumps(const json_t *doc)
{
    jc_buf b;
    char *text = NULL;

    jc_buf_init(&b, (size_t)1 << 30);
    if (doc && dump(&b, doc, 0) == 0)
        text = strdup(jc_buf_str(&b));
    jc_buf_free(&b);
    return text;
}
