/*
 * vec_widths.h - the msgpack formats of the test vectors (vec_widths.c).
 */
#ifndef JC_TEST_VEC_WIDTHS_H
#define JC_TEST_VEC_WIDTHS_H

#include "jcproto/proto.h"

/* check_widths checks that every format named in declared (comma-separated,
 * names as in schemas/vectors/README.md) occurs in the signed bytes sig or
 * the envelope env, and records the formats they use. Returns the number of
 * problems, each printed to stderr. */
int check_widths(const char *name, const char *declared, jc_slice sig, jc_slice env);

/* vec_widths_missing returns how many formats of PROTOCOL.md 3.1 the
 * vectors checked so far do not use, printing each to stderr. */
int vec_widths_missing(void);

#endif
