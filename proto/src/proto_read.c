/*
 * proto_read.c - strict readers of typed fields from msgpack-c object trees
 * (see proto_read.h).
 *
 * Strictness is the point: a signed protocol gains nothing from tolerating
 * unknown or repeated keys, and each tolerance is a place where two
 * implementations could read the same bytes differently. So keys must be
 * str, known and unique; values must have exactly the msgpack type of the
 * spec; optional str, bin and map values, when sent, are not empty.
 */
#include <string.h>

#include "proto_read.h"

/* jc_rd_fields maps the keys of map to names[0..n) (NULL entries are unused
 * slots), rejecting keys that are not str, unknown or repeated. */
jc_err_t jc_rd_fields(jc_rd *d, const msgpack_object *map, const char *const *names, int n,
                      const msgpack_object **vals)
{
    jc_err_t err = JC_OK;

    for (int j = 0; j < n; j++)
        vals[j] = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        char repr[40];
        int f = -1;

        if (key->type != MSGPACK_OBJECT_STR) {
            jc_proto_errf(d->errstr, d->errstr_size, "%s: a map key is not a str", d->what);
            err = JC_ERR_SCHEMA;
            goto out;
        }
        for (int j = 0; j < n && f < 0; j++) {
            if (names[j] != NULL && strlen(names[j]) == key->via.str.size &&
                memcmp(names[j], key->via.str.ptr, key->via.str.size) == 0)
                f = j;
        }
        if (f < 0) {
            jc_proto_repr(key->via.str.ptr, key->via.str.size, repr, sizeof(repr));
            jc_proto_errf(d->errstr, d->errstr_size, "%s: unknown field '%s'", d->what, repr);
            err = JC_ERR_SCHEMA;
            goto out;
        }
        if (vals[f] != NULL) {
            jc_proto_errf(d->errstr, d->errstr_size, "%s: duplicate field '%s'", d->what, names[f]);
            err = JC_ERR_SCHEMA;
            goto out;
        }
        vals[f] = &map->via.map.ptr[i].val;
    }
out:
    return err;
}

/* jc_rd_present checks a field's presence: a missing required field is an error,
 * a missing optional one is not (*is_present tells which). */
jc_err_t jc_rd_present(jc_rd *d, const msgpack_object *o, const char *field, int required,
                       int *is_present)
{
    *is_present = o != NULL;
    if (o == NULL && required) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: missing field '%s'", d->what, field);
        return JC_ERR_SCHEMA;
    }
    return JC_OK;
}

/* jc_rd_wrong_type reports a field of the wrong msgpack type. */
jc_err_t jc_rd_wrong_type(jc_rd *d, const char *field, const char *want)
{
    jc_proto_errf(d->errstr, d->errstr_size, "%s: field '%s' must be %s", d->what, field, want);
    return JC_ERR_SCHEMA;
}

/* read_bytes reads a str or bin field into a slice of the input. An optional
 * field, when present, must not be empty (senders omit it instead). */
static jc_err_t read_bytes(jc_rd *d, const msgpack_object *o, const char *field, int required,
                           msgpack_object_type type, jc_slice *out)
{
    int is_present;
    jc_err_t err = jc_rd_present(d, o, field, required, &is_present);

    if (err || !is_present)
        goto out;
    if (o->type != type) {
        err = jc_rd_wrong_type(d, field, type == MSGPACK_OBJECT_STR ? "a str" : "a bin");
        goto out;
    }
    out->p = (const uint8_t *)(type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr);
    out->n = type == MSGPACK_OBJECT_STR ? o->via.str.size : o->via.bin.size;
    if (!required && out->n == 0) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: optional field '%s' is empty (omit it)",
                      d->what, field);
        err = JC_ERR_SCHEMA;
    }
out:
    return err;
}

jc_err_t jc_rd_str(jc_rd *d, const msgpack_object *o, const char *field, int required,
                   jc_slice *out)
{
    return read_bytes(d, o, field, required, MSGPACK_OBJECT_STR, out);
}

jc_err_t jc_rd_bin(jc_rd *d, const msgpack_object *o, const char *field, int required,
                   jc_slice *out)
{
    return read_bytes(d, o, field, required, MSGPACK_OBJECT_BIN, out);
}

jc_err_t jc_rd_id(jc_rd *d, const msgpack_object *o, const char *field, int required,
                  uint8_t out[JC_ID_LEN], int *was_present)
{
    int is_present;
    jc_err_t err = jc_rd_present(d, o, field, required, &is_present);

    if (was_present != NULL)
        *was_present = is_present;
    if (err || !is_present)
        goto out;
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != JC_ID_LEN) {
        err = jc_rd_wrong_type(d, field, "a bin of 16 bytes");
        goto out;
    }
    memcpy(out, o->via.bin.ptr, JC_ID_LEN);
out:
    return err;
}

/* jc_rd_uint reads a non-negative integer no larger than fit (the width of
 * the struct field; the real range is jc_msg_validate's). */
jc_err_t jc_rd_uint(jc_rd *d, const msgpack_object *o, const char *field, int required,
                    uint64_t fit, uint64_t *out, int *was_present)
{
    int is_present;
    jc_err_t err = jc_rd_present(d, o, field, required, &is_present);

    if (was_present != NULL)
        *was_present = is_present;
    if (err || !is_present)
        goto out;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        err = jc_rd_wrong_type(d, field, "a non-negative integer");
        goto out;
    }
    if (o->via.u64 > fit) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: field '%s' is out of range", d->what, field);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    *out = o->via.u64;
out:
    return err;
}

jc_err_t jc_rd_u32(jc_rd *d, const msgpack_object *o, const char *field, int required,
                   uint32_t *out, int *was_present)
{
    uint64_t v = *out;
    jc_err_t err = jc_rd_uint(d, o, field, required, UINT32_MAX, &v, was_present);

    *out = (uint32_t)v;
    return err;
}

jc_err_t jc_rd_bool(jc_rd *d, const msgpack_object *o, const char *field, int required, int *out,
                    int *was_present)
{
    int is_present;
    jc_err_t err = jc_rd_present(d, o, field, required, &is_present);

    if (was_present != NULL)
        *was_present = is_present;
    if (err || !is_present)
        goto out;
    if (o->type != MSGPACK_OBJECT_BOOLEAN) {
        err = jc_rd_wrong_type(d, field, "a bool");
        goto out;
    }
    *out = o->via.boolean ? 1 : 0;
out:
    return err;
}

/* jc_rd_kvs reads a str->str map into an array from the zone. An optional
 * map, when present, must not be empty. */
jc_err_t jc_rd_kvs(jc_rd *d, const msgpack_object *o, const char *field, int required, jc_kv **out,
                   uint32_t *n_out)
{
    int is_present;
    uint32_t n;
    jc_err_t err = jc_rd_present(d, o, field, required, &is_present);

    if (err || !is_present)
        goto out;
    if (o->type != MSGPACK_OBJECT_MAP) {
        err = jc_rd_wrong_type(d, field, "a map");
        goto out;
    }
    n = o->via.map.size;
    if (!required && n == 0) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: optional field '%s' is empty (omit it)",
                      d->what, field);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (n > JC_MAX_SETTINGS) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: field '%s' has %u entries, over %d", d->what,
                      field, (unsigned)n, JC_MAX_SETTINGS);
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
    if (n == 0)
        goto out;
    *out = msgpack_zone_malloc(d->zone, n * sizeof(jc_kv));
    if (*out == NULL) {
        err = JC_ERR_NOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];

        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_STR) {
            err = jc_rd_wrong_type(d, field, "a map of str to str");
            goto out;
        }
        (*out)[i].key = (jc_slice){(const uint8_t *)kv->key.via.str.ptr, kv->key.via.str.size};
        (*out)[i].value = (jc_slice){(const uint8_t *)kv->val.via.str.ptr, kv->val.via.str.size};
    }
    *n_out = n;
out:
    return err;
}
