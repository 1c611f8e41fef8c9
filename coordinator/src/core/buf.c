/* buf.c - bounded growable buffer (see buf.h). */
#include "core/buf.h"

#include <stdarg.h>
#include <stdint.h>
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

static void put_u32(unsigned char *at, uint32_t v)
{
    at[0] = (unsigned char)(v >> 24);
    at[1] = (unsigned char)(v >> 16);
    at[2] = (unsigned char)(v >> 8);
    at[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *at)
{
    return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
}

/* header: ndim, has-nulls flag, element type (bytea: OID 17), dimension,
 * lower bound; each element: length (-1: NULL) and bytes (array_recv) */
#define BIN_ARRAY_HEADER 20
#define BYTEA_OID 17

int jc_buf_bytea_array_begin(jc_buf *b)
{
    unsigned char h[BIN_ARRAY_HEADER];
    jc_buf_reset(b);
    put_u32(h, 1);
    put_u32(h + 4, 0);
    put_u32(h + 8, BYTEA_OID);
    put_u32(h + 12, 0);
    put_u32(h + 16, 1);
    return jc_buf_add(b, h, sizeof h);
}

int jc_buf_bytea_array_add(jc_buf *b, const void *p, size_t n)
{
    unsigned char len[4];
    if (b->failed || b->len < BIN_ARRAY_HEADER || n > INT32_MAX) {
        b->failed = 1;
        return -1;
    }
    put_u32(len, p ? (uint32_t)n : UINT32_MAX);
    if (jc_buf_add(b, len, sizeof len) != 0 || (p && n && jc_buf_add(b, p, n) != 0))
        return -1;
    if (!p)
        put_u32((unsigned char *)b->data + 4, 1);
    put_u32((unsigned char *)b->data + 12, get_u32((unsigned char *)b->data + 12) + 1);
    return 0;
}

const char *jc_buf_str(const jc_buf *b) { return b->data ? b->data : ""; }

void jc_buf_free(jc_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
