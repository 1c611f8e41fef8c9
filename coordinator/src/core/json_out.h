/*
 * json_out.h - writing JSON on a jc_buf. Shared by the HTTP routes and by
 * access_tokens.c (the claims of a minted token), so that neither has to
 * include the other. Documents built with jansson are appended with
 * jc_json_dump; the status API's large documents and the token endpoint's
 * answer (whose buffer is wiped) are written piece by piece with the calls
 * below (docs/architecture.md, "JSON").
 */
#ifndef JC_CORE_JSON_OUT_H
#define JC_CORE_JSON_OUT_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/buf.h"

/* JSON writing on a jc_buf. */
void jc_json_str(jc_buf *b, const char *s);               /* "escaped" */
void jc_json_strn(jc_buf *b, const char *s, size_t n);    /* "escaped" */
void jc_json_str_or_null(jc_buf *b, const char *s);       /* NULL -> null */
/* jc_json_pg appends column col of row of r: null when NULL, else as a
 * string (kind 's'), a number copied as is ('n'), a boolean ('b', from
 * PostgreSQL's t/f), or a text[] as a JSON array of strings ('a'). */
void jc_json_pg(jc_buf *b, const PGresult *r, int row, int col, char kind);
/* jc_json_dump appends doc, compact, to b and json_decrefs it (doc may be
 * NULL: a value jansson could not build). Returns 0, or -1 (NULL doc, or
 * b's limit reached). */
int jc_json_dump(jc_buf *b, json_t *doc);

#endif
