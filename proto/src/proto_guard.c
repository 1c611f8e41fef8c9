/*
 * proto_guard.c - the structural pre-scan of untrusted msgpack.
 *
 * msgpack-c allocates an array of msgpack_object as soon as it reads a
 * container header, sized by the count in that header, so five bytes
 * (0xdd ff ff ff ff) would make it ask for ~100 GiB. jc_guard walks the raw
 * bytes first, without allocating, and accepts a document only when it is
 * exactly one complete object, nests at most max_depth containers, holds at
 * most max_elements objects in all, and never announces more elements than
 * the bytes left could hold (every object takes at least one byte).
 *
 * The walk is iterative. "pending" counts the objects still announced but not
 * yet read, summed over all open containers; since each needs one byte, the
 * check pending <= bytes_left bounds every header by the input size. The
 * stack only remembers how many elements each open container still owes, so
 * that depth is known; its size is fixed (JC_GUARD_MAX_DEPTH).
 */
#include <stdint.h>
#include <stdio.h>

#include "jcproto/proto.h"

/* be_read reads an n-byte big-endian unsigned integer (n <= 8). */
static uint64_t be_read(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* head describes what follows a format byte. */
typedef struct head {
    const char *name;
    size_t fixed;    /* bytes of fixed payload (numbers, ext type byte, fixext data) */
    size_t len_size; /* bytes of a big-endian length or count that follow */
    int container;   /* 0 scalar, 1 array, 2 map */
    int is_ext;      /* the length is followed by a type byte */
    uint32_t inline_count;
} head;

/* head_of classifies format byte b; returns 0 for the reserved byte 0xc1. */
static int head_of(uint8_t b, head *h)
{
    *h = (head){.name = "scalar"};
    if (b <= 0x7f || b >= 0xe0)
        return 1; /* positive / negative fixint */
    if (b <= 0x8f) {
        *h = (head){.name = "fixmap", .container = 2, .inline_count = b & 0x0fu};
        return 1;
    }
    if (b <= 0x9f) {
        *h = (head){.name = "fixarray", .container = 1, .inline_count = b & 0x0fu};
        return 1;
    }
    if (b <= 0xbf) {
        *h = (head){.name = "fixstr", .fixed = b & 0x1fu};
        return 1;
    }
    switch (b) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */ return 1;
    case 0xc4: *h = (head){.name = "bin8", .len_size = 1}; return 1;
    case 0xc5: *h = (head){.name = "bin16", .len_size = 2}; return 1;
    case 0xc6: *h = (head){.name = "bin32", .len_size = 4}; return 1;
    case 0xc7: *h = (head){.name = "ext8", .len_size = 1, .is_ext = 1}; return 1;
    case 0xc8: *h = (head){.name = "ext16", .len_size = 2, .is_ext = 1}; return 1;
    case 0xc9: *h = (head){.name = "ext32", .len_size = 4, .is_ext = 1}; return 1;
    case 0xca: *h = (head){.name = "float32", .fixed = 4}; return 1;
    case 0xcb: *h = (head){.name = "float64", .fixed = 8}; return 1;
    case 0xcc: *h = (head){.name = "uint8", .fixed = 1}; return 1;
    case 0xcd: *h = (head){.name = "uint16", .fixed = 2}; return 1;
    case 0xce: *h = (head){.name = "uint32", .fixed = 4}; return 1;
    case 0xcf: *h = (head){.name = "uint64", .fixed = 8}; return 1;
    case 0xd0: *h = (head){.name = "int8", .fixed = 1}; return 1;
    case 0xd1: *h = (head){.name = "int16", .fixed = 2}; return 1;
    case 0xd2: *h = (head){.name = "int32", .fixed = 4}; return 1;
    case 0xd3: *h = (head){.name = "int64", .fixed = 8}; return 1;
    case 0xd4: *h = (head){.name = "fixext1", .fixed = 1 + 1}; return 1;
    case 0xd5: *h = (head){.name = "fixext2", .fixed = 1 + 2}; return 1;
    case 0xd6: *h = (head){.name = "fixext4", .fixed = 1 + 4}; return 1;
    case 0xd7: *h = (head){.name = "fixext8", .fixed = 1 + 8}; return 1;
    case 0xd8: *h = (head){.name = "fixext16", .fixed = 1 + 16}; return 1;
    case 0xd9: *h = (head){.name = "str8", .len_size = 1}; return 1;
    case 0xda: *h = (head){.name = "str16", .len_size = 2}; return 1;
    case 0xdb: *h = (head){.name = "str32", .len_size = 4}; return 1;
    case 0xdc: *h = (head){.name = "array16", .len_size = 2, .container = 1}; return 1;
    case 0xdd: *h = (head){.name = "array32", .len_size = 4, .container = 1}; return 1;
    case 0xde: *h = (head){.name = "map16", .len_size = 2, .container = 2}; return 1;
    case 0xdf: *h = (head){.name = "map32", .len_size = 4, .container = 2}; return 1;
    default: return 0; /* 0xc1, never used */
    }
}

jc_err_t jc_guard(const uint8_t *buf, size_t len, int max_depth, uint32_t max_elements,
                  char *errstr, size_t errstr_size)
{
    uint64_t owed[JC_GUARD_MAX_DEPTH]; /* elements each open container still owes */
    int depth = 0;
    uint64_t pending = 1; /* objects announced and not yet read: the top one */
    uint64_t objects = 0;
    size_t off = 0;
    jc_err_t err = JC_OK;

    if (max_depth < 0 || max_depth > JC_GUARD_MAX_DEPTH || (buf == NULL && len > 0)) {
        jc_proto_errf(errstr, errstr_size, "jc_guard: bad arguments");
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    while (pending > 0) {
        size_t start = off;
        head h;
        uint64_t n = 0;
        uint8_t b;

        if (pending > len - off) {
            jc_proto_errf(errstr, errstr_size,
                          "truncated: %llu more objects announced at byte %zu, %zu bytes left",
                          (unsigned long long)pending, off, len - off);
            err = JC_ERR_MALFORMED;
            goto out;
        }
        b = buf[off++];
        if (!head_of(b, &h)) {
            jc_proto_errf(errstr, errstr_size, "reserved type byte 0xc1 at byte %zu", start);
            err = JC_ERR_MALFORMED;
            goto out;
        }
        objects++;
        if (objects > max_elements) {
            jc_proto_errf(errstr, errstr_size, "more than %u objects", (unsigned)max_elements);
            err = JC_ERR_LIMIT;
            goto out;
        }
        /* This object is one of those its parent owes. */
        pending--;
        if (depth > 0)
            owed[depth - 1]--;

        if (h.len_size > len - off) {
            jc_proto_errf(errstr, errstr_size, "truncated %s header at byte %zu", h.name, start);
            err = JC_ERR_MALFORMED;
            goto out;
        }
        n = h.container ? h.inline_count : 0;
        if (h.len_size > 0) {
            n = be_read(buf + off, h.len_size);
            off += h.len_size;
        }

        if (h.container) {
            uint64_t elems = h.container == 2 ? 2 * n : n;

            if (depth >= max_depth) {
                jc_proto_errf(errstr, errstr_size, "nesting deeper than %d at byte %zu", max_depth,
                              start);
                err = JC_ERR_LIMIT;
                goto out;
            }
            if (pending > len - off || elems > len - off - pending) {
                jc_proto_errf(errstr, errstr_size,
                              "%s at byte %zu announces %llu %s but only %zu bytes are left",
                              h.name, start, (unsigned long long)n,
                              h.container == 2 ? "entries" : "elements", len - off);
                err = JC_ERR_MALFORMED;
                goto out;
            }
            if (objects + pending + elems > max_elements) {
                jc_proto_errf(errstr, errstr_size, "%s at byte %zu: more than %u objects", h.name,
                              start, (unsigned)max_elements);
                err = JC_ERR_LIMIT;
                goto out;
            }
            pending += elems;
            if (elems > 0)
                owed[depth++] = elems;
        } else {
            /* str/bin/ext: a length, an ext type byte, then the data. */
            uint64_t skip = h.fixed + n + (h.is_ext ? 1u : 0u);

            if (skip > len - off) {
                jc_proto_errf(errstr, errstr_size,
                              "truncated %s at byte %zu: needs %llu bytes, %zu left", h.name, start,
                              (unsigned long long)skip, len - off);
                err = JC_ERR_MALFORMED;
                goto out;
            }
            off += (size_t)skip;
        }
        while (depth > 0 && owed[depth - 1] == 0)
            depth--;
    }
    if (off != len) {
        jc_proto_errf(errstr, errstr_size, "%zu trailing bytes after the object", len - off);
        err = JC_ERR_MALFORMED;
        goto out;
    }
out:
    return err;
}
