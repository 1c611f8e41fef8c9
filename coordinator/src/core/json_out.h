/*
 * json_out.h - writing JSON. Shared by the HTTP routes and by
 * access_tokens.c (the claims of a minted token), so that neither has to
 * include the other. Documents are jansson trees (the rows of a PGresult
 * become JSON values with jc_json_pg_value and jc_json_pg_fields) appended
 * to a jc_buf with jc_json_dump. The token endpoint's answer, whose
 * buffer is wiped, is written by hand with jc_json_str
 * (docs/architecture.md, "JSON").
 */
#ifndef JC_CORE_JSON_OUT_H
#define JC_CORE_JSON_OUT_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/buf.h"

/* JSON strings written by hand on a jc_buf: the token endpoint's answer,
 * whose buffer is wiped once sent (jansson would leave copies of the
 * tokens in memory it frees without wiping). */
void jc_json_str(jc_buf *b, const char *s);               /* "escaped" */
void jc_json_strn(jc_buf *b, const char *s, size_t n);    /* "escaped" */

/* jc_json_pg_value returns column col of row of r as a new JSON value:
 * null when NULL, else a string (kind 's'), a number ('n': an integer, or
 * a real when the text is not one), a boolean ('b', from PostgreSQL's t/f),
 * or a text[] as an array of strings and nulls ('a'). Returns NULL when an
 * allocation fails or a text is not UTF-8. */
json_t *jc_json_pg_value(const PGresult *r, int row, int col, char kind);

/* A member of an object made from a row: its name and jc_json_pg_value's
 * kind. */
typedef struct jc_json_field {
    const char *name;
    char kind;
} jc_json_field;

/* jc_json_pg_fields sets f[i].name to column col0 + i of row, for i in
 * 0..n-1, on object obj. Returns 0, or -1 when an allocation failed (obj
 * may then hold some of the members; the caller drops it). */
int jc_json_pg_fields(json_t *obj, const PGresult *r, int row, int col0, const jc_json_field *f,
                      size_t n);
/* jc_json_pg_object returns row of r as a new object of fields f (see
 * jc_json_pg_fields), or NULL when an allocation failed. */
json_t *jc_json_pg_object(const PGresult *r, int row, int col0, const jc_json_field *f, size_t n);

/* jc_json_text returns s as a new JSON string; bytes of s that are not
 * UTF-8 become '?' (error texts may quote what a client sent). NULL when
 * an allocation fails. */
json_t *jc_json_text(const char *s);

/* jc_json_pg appends jc_json_pg_value's value to b (b->failed when it
 * cannot be made). */
void jc_json_pg(jc_buf *b, const PGresult *r, int row, int col, char kind);
/* jc_json_dump appends doc, compact, to b and json_decrefs it (doc may be
 * NULL: a value jansson could not build). Returns 0, or -1 (NULL doc, an
 * allocation failed, or b's limit reached). Use it or jc_json_dumps rather
 * than json_dumps: jansson can return a damaged text when an allocation
 * fails while it writes (json_out.c). */
int jc_json_dump(jc_buf *b, json_t *doc);
/* jc_json_dumps returns doc's compact text (malloc'd; the caller frees
 * it), or NULL when doc is NULL or an allocation failed. doc is kept. */
char *jc_json_dumps(const json_t *doc);

#endif
