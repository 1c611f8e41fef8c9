/*
 * samples.h - valid messages of every type and kind for the codec tests,
 * and a field-by-field comparison of two jc_msg.
 */
#ifndef JC_TEST_PROTO_SAMPLES_H
#define JC_TEST_PROTO_SAMPLES_H

#include <stddef.h>

#include "jcproto/proto.h"

/* The key every sample is signed with, and its id. */
extern const uint8_t sample_key[JC_KEY_LEN];
#define SAMPLE_KEY_ID "k1"

/* sample_count is the number of samples; sample_get fills m with sample i
 * (slices point to static data) and returns its name. */
int sample_count(void);
const char *sample_get(int i, jc_msg *m);

/* sample_minimal reports whether sample i carries only required fields, so
 * that removing any body field must make it invalid. */
int sample_minimal(int i);

/* msg_equal compares every field of a and b that their type uses; on a
 * difference it returns 0 and names the field in why. */
int msg_equal(const jc_msg *a, const jc_msg *b, char *why, size_t why_size);

/* seal_sample encodes and seals m with sample_key into out (initialized by
 * the caller); returns the codec's error. */
jc_err_t seal_sample(const jc_msg *m, msgpack_sbuffer *out);

#endif
