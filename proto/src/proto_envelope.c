/*
 * proto_envelope.c - the outer layer of every message: a msgpack map
 * {"v": version, "p": principal, "k": key id, "s": signed bytes, "m": mac}
 * where mac = HMAC-SHA256(key of (p, k), s). Versions 1 and 2 have the same
 * envelope; the version decides how the signed payload is read.
 *
 * The MAC covers the exact bytes of "s" as received. Nothing is ever
 * re-encoded before checking it, so two encoders that disagree on some
 * detail still interoperate, and the signed payload is decoded (allocating)
 * only after its MAC has been checked by the receiver.
 *
 * Parsing order is part of the contract: size cap, structural pre-scan
 * (jc_guard, before msgpack-c allocates), the version (so a future version is
 * reported as such, whatever else it changed), then the other keys, strictly.
 */
#include <string.h>

#include <sodium.h>

#include "proto_read.h"

enum { F_V, F_P, F_K, F_S, F_M, F__COUNT };
static const char *const env_fields[F__COUNT] = {"v", "p", "k", "s", "m"};

/* key_is reports whether the msgpack object is the str name. */
static int key_is(const msgpack_object *o, const char *name)
{
    size_t n = strlen(name);

    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, name, n) == 0;
}

/* check_version finds "v" in the envelope map and checks it is a version
 * this codec implements (JC_PROTO_VERSION_MIN..JC_PROTO_VERSION_MAX). */
static jc_err_t check_version(const msgpack_object *root, uint32_t *version, char *errstr,
                              size_t errstr_size)
{
    const msgpack_object *v = NULL;
    jc_err_t err = JC_OK;

    for (uint32_t i = 0; i < root->via.map.size && v == NULL; i++) {
        if (key_is(&root->via.map.ptr[i].key, "v"))
            v = &root->via.map.ptr[i].val;
    }
    if (v == NULL) {
        jc_proto_errf(errstr, errstr_size, "envelope: missing field 'v'");
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER && v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        jc_proto_errf(errstr, errstr_size, "envelope: field 'v' must be an integer");
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 < JC_PROTO_VERSION_MIN ||
        v->via.u64 > JC_PROTO_VERSION_MAX) {
        jc_proto_errf(errstr, errstr_size,
                      "envelope: unsupported protocol version (this receiver implements %d..%d)",
                      JC_PROTO_VERSION_MIN, JC_PROTO_VERSION_MAX);
        err = JC_ERR_BAD_VERSION;
        goto out;
    }
    *version = (uint32_t)v->via.u64;
out:
    return err;
}

jc_err_t jc_envelope_parse(const uint8_t *buf, size_t len, size_t max_bytes, jc_envelope *env,
                           char *errstr, size_t errstr_size)
{
    jc_rd d = {.what = "envelope", .errstr = errstr, .errstr_size = errstr_size};
    const msgpack_object *vals[F__COUNT];
    size_t cap =
        (max_bytes == 0 || max_bytes > JC_MAX_MESSAGE_BYTES) ? JC_MAX_MESSAGE_BYTES : max_bytes;
    msgpack_zone zone;
    int have_zone = 0;
    msgpack_object root;
    msgpack_unpack_return ur;
    size_t off = 0;
    jc_err_t err = JC_OK;

    if (env == NULL || (buf == NULL && len > 0)) {
        jc_proto_errf(errstr, errstr_size, "jc_envelope_parse: NULL argument");
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    memset(env, 0, sizeof(*env));
    if (len > cap) {
        jc_proto_errf(errstr, errstr_size, "envelope is %zu bytes, over the limit of %zu", len,
                      cap);
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
    err = jc_guard(buf, len, JC_MAX_DEPTH, JC_MAX_ELEMENTS, errstr, errstr_size);
    if (err)
        goto out;
    if (!msgpack_zone_init(&zone, 1024)) {
        jc_proto_errf(errstr, errstr_size, "out of memory");
        err = JC_ERR_NOMEM;
        goto out;
    }
    have_zone = 1;
    ur = msgpack_unpack((const char *)buf, len, &off, &zone, &root);
    if (ur != MSGPACK_UNPACK_SUCCESS) {
        jc_proto_errf(errstr, errstr_size, "envelope: msgpack unpack failed (%d)", (int)ur);
        err = ur == MSGPACK_UNPACK_NOMEM_ERROR ? JC_ERR_NOMEM : JC_ERR_MALFORMED;
        goto out;
    }
    if (root.type != MSGPACK_OBJECT_MAP) {
        jc_proto_errf(errstr, errstr_size, "envelope is not a map");
        err = JC_ERR_SCHEMA;
        goto out;
    }
    err = check_version(&root, &env->version, errstr, errstr_size);
    if (err)
        goto out;
    err = jc_rd_fields(&d, &root, env_fields, F__COUNT, vals);
    if (!err)
        err = jc_rd_str(&d, vals[F_P], "p", 1, &env->principal);
    if (!err)
        err = jc_rd_str(&d, vals[F_K], "k", 1, &env->key_id);
    if (!err)
        err = jc_rd_bin(&d, vals[F_S], "s", 1, &env->signed_bytes);
    if (!err)
        err = jc_rd_bin(&d, vals[F_M], "m", 1, &env->mac);
    if (err)
        goto out;
    if (!jc_name_valid(env->principal.p, env->principal.n, JC_MAX_PRINCIPAL_LEN) ||
        !jc_name_valid(env->key_id.p, env->key_id.n, JC_MAX_KEY_ID_LEN)) {
        jc_proto_errf(errstr, errstr_size,
                      "envelope: 'p' and 'k' must be 1..64 bytes of [A-Za-z0-9._:@-]");
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (env->signed_bytes.n == 0) {
        jc_proto_errf(errstr, errstr_size, "envelope: field 's' is empty");
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (env->mac.n != JC_MAC_LEN) {
        jc_proto_errf(errstr, errstr_size, "envelope: field 'm' must be %d bytes", JC_MAC_LEN);
        err = JC_ERR_SCHEMA;
        goto out;
    }
out:
    if (have_zone)
        msgpack_zone_destroy(&zone);
    if (err && env != NULL)
        memset(env, 0, sizeof(*env));
    return err;
}

jc_err_t jc_envelope_verify(const jc_envelope *env, const uint8_t key[JC_KEY_LEN])
{
    if (env == NULL || key == NULL || env->mac.n != JC_MAC_LEN || env->mac.p == NULL ||
        env->signed_bytes.p == NULL)
        return JC_ERR_BAD_SIGNATURE;
    if (crypto_auth_hmacsha256_verify(env->mac.p, env->signed_bytes.p, env->signed_bytes.n, key) !=
        0)
        return JC_ERR_BAD_SIGNATURE;
    return JC_OK;
}

jc_err_t jc_envelope_seal(const jc_slice *principal, const jc_slice *key_id,
                          const uint8_t key[JC_KEY_LEN], const uint8_t *signed_bytes,
                          size_t signed_len, msgpack_sbuffer *out)
{
    return jc_envelope_seal_v(JC_PROTO_VERSION, principal, key_id, key, signed_bytes, signed_len,
                              out);
}

jc_err_t jc_envelope_seal_v(uint32_t version, const jc_slice *principal, const jc_slice *key_id,
                            const uint8_t key[JC_KEY_LEN], const uint8_t *signed_bytes,
                            size_t signed_len, msgpack_sbuffer *out)
{
    uint8_t mac[JC_MAC_LEN];
    msgpack_packer pk;
    int rc = 0;
    jc_err_t err = JC_OK;

    if (version < JC_PROTO_VERSION_MIN || version > JC_PROTO_VERSION_MAX || principal == NULL || key_id == NULL || key == NULL || signed_bytes == NULL ||
        signed_len == 0 || out == NULL ||
        !jc_name_valid(principal->p, principal->n, JC_MAX_PRINCIPAL_LEN) ||
        !jc_name_valid(key_id->p, key_id->n, JC_MAX_KEY_ID_LEN)) {
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    msgpack_sbuffer_clear(out);
    if (signed_len > JC_MAX_MESSAGE_BYTES) {
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
    crypto_auth_hmacsha256(mac, signed_bytes, signed_len, key);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    rc |= msgpack_pack_map(&pk, 5);
    rc |= msgpack_pack_str_with_body(&pk, "v", 1);
    rc |= msgpack_pack_uint64(&pk, version);
    rc |= msgpack_pack_str_with_body(&pk, "p", 1);
    rc |= msgpack_pack_str_with_body(&pk, principal->p, principal->n);
    rc |= msgpack_pack_str_with_body(&pk, "k", 1);
    rc |= msgpack_pack_str_with_body(&pk, key_id->p, key_id->n);
    rc |= msgpack_pack_str_with_body(&pk, "s", 1);
    rc |= msgpack_pack_bin_with_body(&pk, signed_bytes, signed_len);
    rc |= msgpack_pack_str_with_body(&pk, "m", 1);
    rc |= msgpack_pack_bin_with_body(&pk, mac, sizeof(mac));
    if (rc != 0) {
        msgpack_sbuffer_clear(out);
        err = JC_ERR_NOMEM;
        goto out;
    }
    if (out->size > JC_MAX_MESSAGE_BYTES) {
        msgpack_sbuffer_clear(out);
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
out:
    return err;
}
