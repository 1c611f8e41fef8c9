/*
 * proto_read.h - strict readers of typed fields from msgpack-c object trees,
 * shared by the envelope parser and the payload decoder (private to the
 * proto_*.c files).
 *
 * Every reader takes the object (NULL when the field is absent) and whether
 * the field is required, and on failure fills the context's errstr with the
 * field's name. str and bin results are slices into the unpacked input.
 */
#ifndef JC_PROTO_READ_H
#define JC_PROTO_READ_H

#include "jcproto/proto.h"

/* jc_rd carries the context of one decode, for allocation and error texts. */
typedef struct jc_rd {
    const char *what;   /* "heartbeat", "envelope", ... (for error texts) */
    msgpack_zone *zone; /* where arrays are allocated; NULL if none are read */
    char *errstr;
    size_t errstr_size;
} jc_rd;

/* jc_rd_fields maps the keys of map to names[0..n), setting vals[i] to the
 * value of names[i] or NULL; rejects keys that are not str, unknown or
 * repeated (JC_ERR_SCHEMA). */
jc_err_t jc_rd_fields(jc_rd *d, const msgpack_object *map, const char *const *names, int n,
                      const msgpack_object **vals);

/* jc_rd_present fails for a missing required field; *is_present says
 * whether o is there. */
jc_err_t jc_rd_present(jc_rd *d, const msgpack_object *o, const char *field, int required,
                       int *is_present);

/* jc_rd_wrong_type reports a field of the wrong msgpack type. */
jc_err_t jc_rd_wrong_type(jc_rd *d, const char *field, const char *want);

/* jc_rd_str / jc_rd_bin read a str / bin into a slice of the input. An
 * optional one, when present, must not be empty (senders omit it). Absent:
 * *out is left alone. */
jc_err_t jc_rd_str(jc_rd *d, const msgpack_object *o, const char *field, int required,
                   jc_slice *out);
jc_err_t jc_rd_bin(jc_rd *d, const msgpack_object *o, const char *field, int required,
                   jc_slice *out);

/* jc_rd_id reads a bin of exactly JC_ID_LEN bytes. */
jc_err_t jc_rd_id(jc_rd *d, const msgpack_object *o, const char *field, int required,
                  uint8_t out[JC_ID_LEN], int *was_present);

/* jc_rd_uint reads a non-negative integer no larger than fit (the width of
 * the destination; the protocol's range is jc_msg_validate's business).
 * jc_rd_u32 does the same into a uint32_t. Absent: *out is left alone. */
jc_err_t jc_rd_uint(jc_rd *d, const msgpack_object *o, const char *field, int required,
                    uint64_t fit, uint64_t *out, int *was_present);
jc_err_t jc_rd_u32(jc_rd *d, const msgpack_object *o, const char *field, int required,
                   uint32_t *out, int *was_present);

/* jc_rd_bool reads true or false. */
jc_err_t jc_rd_bool(jc_rd *d, const msgpack_object *o, const char *field, int required, int *out,
                    int *was_present);

/* jc_rd_kvs reads a map of str to str (at most JC_MAX_SETTINGS entries, else
 * JC_ERR_TOO_LARGE) into an array allocated from d->zone. */
jc_err_t jc_rd_kvs(jc_rd *d, const msgpack_object *o, const char *field, int required, jc_kv **out,
                   uint32_t *n_out);

#endif /* JC_PROTO_READ_H */
