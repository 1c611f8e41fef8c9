/*
 * capture.h - what jobcoord-worker keeps of a program's output: its lines,
 * made fit for log events, and the tail of its stdout (the job's result).
 */
#ifndef JC_TOOLS_CAPTURE_H
#define JC_TOOLS_CAPTURE_H

#include <stddef.h>

#define LINE_MAX_TEXT 4096 /* the protocol's limit on a log line */

/* line_fn receives one line: valid UTF-8 without NUL, 1..LINE_MAX_TEXT
 * bytes, NUL-terminated. */
typedef void (*line_fn)(const char *line, void *arg);

/* A line splitter. Bytes after the first LINE_MAX_TEXT of a line are
 * dropped up to its end; a "\r\n" ending is removed; empty lines are not
 * reported; invalid UTF-8 and NUL bytes become U+FFFD. */
typedef struct linebuf {
    char raw[LINE_MAX_TEXT];
    size_t len;
    int cut; /* dropping until the next newline */
} linebuf;

/* linebuf_feed splits data into lines, calling fn for each complete one. */
void linebuf_feed(linebuf *lb, const char *data, size_t n, line_fn fn, void *arg);

/* linebuf_flush reports the unterminated last line, if any (at EOF). */
void linebuf_flush(linebuf *lb, line_fn fn, void *arg);

/* utf8_sanitize copies in (n bytes) to out (out_size > 0) as valid UTF-8
 * without NUL, each bad byte replaced by U+FFFD, stopping before a
 * character that would not fit; out is NUL-terminated. Returns the length
 * written. */
size_t utf8_sanitize(const char *in, size_t n, char *out, size_t out_size);


/* The last cap bytes written (a ring). */
typedef struct tailbuf {
    char *buf;
    size_t cap, start, len;
} tailbuf;

/* tailbuf_init sets up a tail of cap bytes (0: keeps nothing); -1 when out
 * of memory. */
int tailbuf_init(tailbuf *tb, size_t cap);
void tailbuf_add(tailbuf *tb, const char *data, size_t n);

/* tailbuf_take returns the kept bytes in order in a malloc'd buffer (NULL
 * when empty or out of memory) and their count in *len. */
char *tailbuf_take(const tailbuf *tb, size_t *len);
void tailbuf_free(tailbuf *tb);

#endif
