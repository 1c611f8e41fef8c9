/*
 * vec_widths.c - finds the msgpack formats a test vector's bytes use, for
 * test_proto_vectors: every format a vector names in its "widths" line must
 * occur in it, and together the vectors must use every format PROTOCOL.md
 * 3.1 lists. The walker is the test's own, independent of the codec.
 */
#include "vec_widths.h"

#include <stdint.h>
#include <string.h>

#include <stdio.h>

/* The msgpack formats PROTOCOL.md 3.1 lists as accepted, by name. */
static const char *const formats[] = {
    "fixint", "uint8",  "uint16",   "uint32",  "uint64",  "negfixint", "int8",  "int16", "int32",
    "int64",  "fixstr", "str8",     "str16",   "str32",   "bin8",      "bin16", "bin32", "fixarray",
    "array16", "array32", "fixmap", "map16",   "map32",   "true",      "false"};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))
static int format_seen[N_FORMATS];

/* format_index returns the index of a format name, or -1. */
static int format_index(const char *name, size_t n)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (strlen(formats[i]) == n && memcmp(formats[i], name, n) == 0)
            return (int)i;
    return -1;
}

/* be_len reads an n-byte big-endian count. */
static uint64_t be_len(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* walk marks in used[] the format of every object of the msgpack document
 * at *p (end is its end); recurses into the envelope's "s" when inner is
 * set. Returns 0, or -1 on bytes it cannot follow. */
static int walk(const uint8_t **p, const uint8_t *end, int used[N_FORMATS], int depth)
{
    const uint8_t *q = *p;
    uint8_t t;
    uint64_t n = 0, items = 0;
    const char *f;
    int lenb = 0;

    if (q >= end || depth > 16)
        return -1;
    t = *q++;
    if (t <= 0x7f)
        f = "fixint";
    else if (t >= 0xe0)
        f = "negfixint";
    else if (t >= 0xcc && t <= 0xcf)
        f = (const char *[]){"uint8", "uint16", "uint32", "uint64"}[t - 0xcc], q += 1 << (t - 0xcc);
    else if (t >= 0xd0 && t <= 0xd3)
        f = (const char *[]){"int8", "int16", "int32", "int64"}[t - 0xd0], q += 1 << (t - 0xd0);
    else if (t == 0xc2 || t == 0xc3)
        f = t == 0xc3 ? "true" : "false";
    else if (t >= 0xa0 && t <= 0xbf)
        f = "fixstr", n = t & 0x1f;
    else if (t >= 0xd9 && t <= 0xdb)
        f = (const char *[]){"str8", "str16", "str32"}[t - 0xd9], lenb = 1 << (t - 0xd9);
    else if (t >= 0xc4 && t <= 0xc6)
        f = (const char *[]){"bin8", "bin16", "bin32"}[t - 0xc4], lenb = 1 << (t - 0xc4);
    else if (t >= 0x90 && t <= 0x9f)
        f = "fixarray", items = t & 0x0f;
    else if (t == 0xdc || t == 0xdd)
        f = t == 0xdc ? "array16" : "array32", lenb = t == 0xdc ? 2 : 4;
    else if (t >= 0x80 && t <= 0x8f)
        f = "fixmap", items = 2u * (t & 0x0f);
    else if (t == 0xde || t == 0xdf)
        f = t == 0xde ? "map16" : "map32", lenb = t == 0xde ? 2 : 4;
    else
        return -1; /* nil, float, ext: never valid */
    if (lenb) {
        if (q + lenb > end)
            return -1;
        n = be_len(q, lenb);
        q += lenb;
        if (t >= 0xdc && t <= 0xdf)
            items = (t == 0xde || t == 0xdf) ? 2 * n : n, n = 0;
    }
    if (q > end || n > (uint64_t)(end - q))
        return -1;
    used[format_index(f, strlen(f))] = 1;
    q += n;
    for (uint64_t i = 0; i < items; i++)
        if (walk(&q, end, used, depth + 1) != 0)
            return -1;
    *p = q;
    return 0;
}

/* check_widths: see vec_widths.h. */
int check_widths(const char *name, const char *declared, jc_slice sig, jc_slice env)
{
    int used[N_FORMATS] = {0}, bad = 0;
    const uint8_t *p = sig.p;

    if (walk(&p, sig.p + sig.n, used, 0) != 0 || p != sig.p + sig.n) {
        fprintf(stderr, "%s: cannot walk the signed bytes\n", name);
        bad++;
    }
    p = env.p;
    if (walk(&p, env.p + env.n, used, 0) != 0 || p != env.p + env.n) {
        fprintf(stderr, "%s: cannot walk the envelope\n", name);
        bad++;
    }
    if (declared == NULL || !*declared) {
        fprintf(stderr, "%s: names no widths\n", name);
        bad++;
    }
    while (declared != NULL && *declared) {
        const char *comma = strchr(declared, ',');
        size_t n = comma ? (size_t)(comma - declared) : strlen(declared);
        int i = format_index(declared, n);

        if (i < 0)
            fprintf(stderr, "%s: unknown width '%.*s'\n", name, (int)n, declared);
        else if (!used[i])
            fprintf(stderr, "%s: names width %.*s but its bytes do not use it\n", name, (int)n,
                    declared);
        bad += i < 0 || !used[i];
        declared = comma ? comma + 1 : declared + n;
    }
    for (size_t i = 0; i < N_FORMATS; i++)
        format_seen[i] |= used[i];
    return bad;
}

int vec_widths_missing(void)
{
    int missing = 0;

    for (size_t i = 0; i < N_FORMATS; i++)
        if (!format_seen[i]) {
            fprintf(stderr, "no vector uses the msgpack format %s\n", formats[i]);
            missing++;
        }
    return missing;
}
