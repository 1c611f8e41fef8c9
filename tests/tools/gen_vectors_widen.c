/*
 * gen_vectors_widen.c - re-encodes a canonical msgpack document with wider
 * formats (see gen_vectors_widen.h); used by jc-gen-vectors only.
 */
#include "gen_vectors_widen.h"

#include <stdint.h>

/* raw writes bytes to the buffer. */
static void raw(msgpack_sbuffer *out, const void *p, size_t n)
{
    msgpack_sbuffer_write(out, p, n);
}

/* raw_be writes v big-endian in n bytes after the type byte t. */
static void raw_be(msgpack_sbuffer *out, uint8_t t, uint64_t v, int n)
{
    uint8_t b[9];

    b[0] = t;
    for (int i = 0; i < n; i++)
        b[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    raw(out, b, (size_t)n + 1);
}

/* be reads n big-endian bytes. */
static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* put_int writes an integer in the first signed format of at least w
 * bytes that holds it (int 8, 16, 32, 64). */
static void put_int(msgpack_sbuffer *out, int64_t v, int w)
{
    if (w <= 1 && v >= INT8_MIN && v <= INT8_MAX)
        raw_be(out, 0xd0, (uint64_t)v, 1);
    else if (w <= 2 && v >= INT16_MIN && v <= INT16_MAX)
        raw_be(out, 0xd1, (uint64_t)v, 2);
    else if (w <= 4 && v >= INT32_MIN && v <= INT32_MAX)
        raw_be(out, 0xd2, (uint64_t)v, 4);
    else
        raw_be(out, 0xd3, (uint64_t)v, 8);
}

/* widen_one: see gen_vectors_widen.h. */
void widen_one(const uint8_t **p, const widening *w, msgpack_sbuffer *out)
{
    const uint8_t *q = *p;
    uint8_t t = *q++;
    uint64_t n = 0;
    int kind = 0; /* 1 str, 2 bin, 3 array, 4 map */

    if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) { /* integers */
        int64_t v;
        if (t <= 0x7f)
            v = t;
        else if (t >= 0xe0)
            v = (int8_t)t;
        else if (t <= 0xcf) {
            int len = 1 << (t - 0xcc);
            uint64_t u = be(q, len);
            q += len;
            if (w->ints && u > INT64_MAX) {
                raw_be(out, 0xcf, u, 8);
                *p = q;
                return;
            }
            v = (int64_t)u;
        } else {
            int len = 1 << (t - 0xd0);
            uint64_t u = be(q, len);
            q += len;
            v = len == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * len)) >> (64 - 8 * len);
        }
        if (w->ints)
            put_int(out, v, w->ints);
        else
            raw(out, *p, (size_t)(q - *p));
        *p = q;
        return;
    }
    if (t >= 0xa0 && t <= 0xbf)
        kind = 1, n = t & 0x1f;
    else if (t >= 0xd9 && t <= 0xdb)
        kind = 1, n = be(q, 1 << (t - 0xd9)), q += 1 << (t - 0xd9);
    else if (t >= 0xc4 && t <= 0xc6)
        kind = 2, n = be(q, 1 << (t - 0xc4)), q += 1 << (t - 0xc4);
    else if (t >= 0x90 && t <= 0x9f)
        kind = 3, n = t & 0x0f;
    else if (t == 0xdc || t == 0xdd)
        kind = 3, n = be(q, t == 0xdc ? 2 : 4), q += t == 0xdc ? 2 : 4;
    else if (t >= 0x80 && t <= 0x8f)
        kind = 4, n = t & 0x0f;
    else if (t == 0xde || t == 0xdf)
        kind = 4, n = be(q, t == 0xde ? 2 : 4), q += t == 0xde ? 2 : 4;
    else { /* true, false */
        raw(out, &t, 1);
        *p = q;
        return;
    }
    if (kind == 1 || kind == 2) {
        int hw = kind == 1 ? w->strs : w->bins;
        if (hw == 1 && kind == 1 && n <= 0xff)
            raw_be(out, 0xd9, n, 1);
        else if (hw && hw <= 2 && n <= 0xffff)
            raw_be(out, kind == 1 ? 0xda : 0xc5, n, 2);
        else if (hw)
            raw_be(out, kind == 1 ? 0xdb : 0xc6, n, 4);
        else
            raw(out, *p, (size_t)(q - *p));
        raw(out, q, (size_t)n);
        *p = q + n;
        return;
    }
    if (w->containers == 2 && n <= 0xffff)
        raw_be(out, kind == 3 ? 0xdc : 0xde, n, 2);
    else if (w->containers)
        raw_be(out, kind == 3 ? 0xdd : 0xdf, n, 4);
    else
        raw(out, *p, (size_t)(q - *p));
    *p = q;
    for (uint64_t i = 0; i < (kind == 4 ? 2 * n : n); i++)
        widen_one(p, w, out);
}

