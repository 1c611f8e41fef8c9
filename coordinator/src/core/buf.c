/* buf.c - bounded growable buffer (see buf.h). */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jc_buf_init(jc_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void jc_buf_reset(jc_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

// grow makes room for extra more bytes plus a NUL.
static int grow(jc_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (b->failed)
        return -1;
    if (extra > b->max || b->len + extra + 1 > b->max) {
        b->failed = 1;
        return -1;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int jc_buf_add(jc_buf *b, const void *p, size_t n)
{
    if (grow(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int jc_buf_addstr(jc_buf *b, const char *s) { return jc_buf_add(b, s, strlen(s)); }

int jc_buf_printf(jc_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int jc_buf_add_array_elem(jc_buf *b, const char *p, size_t n)
{
    if (b->len > 0 && b->data[b->len - 1] != '{' && jc_buf_add(b, ",", 1) != 0)
        return -1;
    if (jc_buf_add(b, "\"", 1) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((p[i] == '"' || p[i] == '\\') && jc_buf_add(b, "\\", 1) != 0)
            return -1;
        if (jc_buf_add(b, p + i, 1) != 0)
            return -1;
    }
    return jc_buf_add(b, "\"", 1);
}

int jc_buf_add_array_null(jc_buf *b)
{
    if (b->len > 0 && b->data[b->len - 1] != '{' && jc_buf_add(b, ",", 1) != 0)
        return -1;
    return jc_buf_add(b, "NULL", 4);
}

int jc_buf_add_array_num(jc_buf *b, long long v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%lld", v);
    return jc_buf_add_array_elem(b, t, (size_t)n);
}

const char *jc_buf_str(const jc_buf *b) { return b->data ? b->data : ""; }

void jc_buf_free(jc_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
