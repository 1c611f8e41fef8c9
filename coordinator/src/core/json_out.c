/*
 * json_out.c - writing JSON on a jc_buf (see json_out.h): the status API's
 * answers and the token endpoint's piece by piece, and the documents built
 * with jansson (access-token claims, JWKS, metadata) appended whole.
 */
#include "core/json_out.h"

#include <stdlib.h>
#include <string.h>


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

void jc_json_str_or_null(jc_buf *b, const char *s)
{
    if (s)
        jc_json_str(b, s);
    else
        jc_buf_addstr(b, "null");
}

/* pg_array_to_json turns a one-dimensional text[] literal ({a,"b c",NULL})
 * into a JSON array of strings (NULL elements become null). */
static void pg_array_to_json(jc_buf *b, const char *v)
{
    const char *p = v;
    int first = 1;
    jc_buf_addstr(b, "[");
    if (*p == '{')
        p++;
    while (*p && *p != '}') {
        jc_buf e;
        jc_buf_init(&e, 1u << 20);
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                jc_buf_add(&e, p, 1);
                p++;
            }
            if (*p == '"')
                p++;
            if (!first)
                jc_buf_addstr(b, ",");
            jc_json_strn(b, jc_buf_str(&e), e.len);
        } else {
            const char *st = p;
            while (*p && *p != ',' && *p != '}')
                p++;
            if (!first)
                jc_buf_addstr(b, ",");
            if (p - st == 4 && strncmp(st, "NULL", 4) == 0)
                jc_buf_addstr(b, "null");
            else
                jc_json_strn(b, st, (size_t)(p - st));
        }
        jc_buf_free(&e);
        first = 0;
        if (*p == ',')
            p++;
    }
    jc_buf_addstr(b, "]");
}

void jc_json_pg(jc_buf *b, const PGresult *r, int row, int col, char kind)
{
    const char *v;
    if (PQgetisnull(r, row, col)) {
        jc_buf_addstr(b, "null");
        return;
    }
    v = PQgetvalue(r, row, col);
    switch (kind) {
    case 'n':
        jc_buf_addstr(b, v);
        break;
    case 'b':
        jc_buf_addstr(b, v[0] == 't' ? "true" : "false");
        break;
    case 'a':
        pg_array_to_json(b, v);
        break;
    default:
        jc_json_str(b, v);
    }
}

int jc_json_dump(jc_buf *b, json_t *doc)
{
    char *text;
    int rc = -1;

    if (!doc)
        return -1;
    text = json_dumps(doc, JSON_COMPACT);
    if (text)
        rc = jc_buf_addstr(b, text);
    free(text);
    json_decref(doc);
    return rc;
}
