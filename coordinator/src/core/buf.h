/*
 * buf.h - a growable byte buffer with a maximum fixed at creation (curl's
 * dynbuf is the model): nothing that comes from the network can make it grow
 * without bound. Used to build SQL array literals and the like.
 */
#ifndef JC_BUF_H
#define JC_BUF_H

#include <stddef.h>

typedef struct jc_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap, max;
    int failed; /* sticky: an append hit max or allocation failed */
} jc_buf;

/* jc_buf_init prepares an empty buffer that never grows beyond max bytes. */
void jc_buf_init(jc_buf *b, size_t max);
/* jc_buf_reset empties b and clears the failure flag, keeping its memory. */
void jc_buf_reset(jc_buf *b);
/* jc_buf_add appends n bytes; returns -1 (and sets failed) past max. */
int jc_buf_add(jc_buf *b, const void *p, size_t n);
int jc_buf_addstr(jc_buf *b, const char *s);
int jc_buf_printf(jc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* jc_buf_add_array_elem appends one element of a PostgreSQL array literal
 * ("{a,b}") as a quoted, escaped string, with a leading comma unless it is
 * the first element after '{'. */
int jc_buf_add_array_elem(jc_buf *b, const char *p, size_t n);
/* jc_buf_add_array_null appends a NULL element to an array literal. */
int jc_buf_add_array_null(jc_buf *b);
/* jc_buf_add_array_num appends a decimal integer element. */
int jc_buf_add_array_num(jc_buf *b, long long v);
/* A bytea[] parameter in PostgreSQL's binary array format, so that bytes
 * travel as they are (no hex text, no parse cost per element): begin it
 * with jc_buf_bytea_array_begin, add elements (p NULL: a NULL element),
 * then pass data and len with format 1 (binary). The header counts the
 * elements as they are added. */
int jc_buf_bytea_array_begin(jc_buf *b);
int jc_buf_bytea_array_add(jc_buf *b, const void *p, size_t n);

/* jc_buf_str returns the contents as a C string ("" when empty). */
const char *jc_buf_str(const jc_buf *b);
void jc_buf_free(jc_buf *b);

#endif
