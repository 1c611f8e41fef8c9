/*
 * gen_vectors_widen.h - re-encoding a canonical msgpack document with wider
 * formats, for the accept vectors of schemas/vectors/ (formats receivers
 * MUST accept but the canonical encoding never produces within the limits).
 */
#ifndef JC_GEN_VECTORS_WIDEN_H
#define JC_GEN_VECTORS_WIDEN_H

#include <stdint.h>

#include <msgpack.h>

/* widening is how an accept vector re-encodes the canonical payload: the
 * width in bytes of every integer (signed formats int 8..64, each value
 * taking the first that holds it), str header (1, 2 or 4: str 8/16/32), bin
 * header (2 or 4) and array/map header (2 or 4); 0 keeps canonical. */
typedef struct widening {
    int ints, strs, bins, containers;
} widening;

/* widen_one re-encodes the object at *p (canonical bytes from the project's
 * own encoder: well-formed, no float, ext or nil) with the widths of w into
 * out, and advances *p past it. */
void widen_one(const uint8_t **p, const widening *w, msgpack_sbuffer *out);

#endif
