/*
 * test_proto_hostile.c - the codec against hostile messages: bad
 * signatures, truncation at every length, wrong types for every field,
 * missing, unknown and repeated fields, principal mismatch, bad versions,
 * oversized messages and fields, too many entries, the "only with" rules,
 * and the encoder refusing what the decoder rejects. (Raw msgpack hostility
 * - nesting, huge headers, reserved bytes, random mutations - is in
 * test_proto_guard.c.) Nothing may crash (CI runs this under ASan/UBSan);
 * every bad input must be refused with an error text.
 *
 * Hostile payloads are made by unpacking a valid sample's signed bytes,
 * editing the object tree (replace, remove, add or repeat a key) and packing
 * it again, then sealing it with the right key, so that each case reaches
 * the decoder with a valid MAC and tests exactly one rule.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "samples.h"

enum op { OP_REPLACE, OP_REMOVE, OP_ADD, OP_DUP };

/* run_envelope parses, verifies and decodes env like a receiver would
 * (decoding even when the MAC fails, to reach the decoder with hostile
 * bytes); returns the first error and, if asked, the decode reason. */
static jc_err_t run_envelope(const uint8_t *p, size_t n, const char **reason)
{
    jc_envelope env;
    jc_msg m;
    char errstr[256] = "";
    jc_err_t err, verr, derr;

    if (reason != NULL)
        *reason = NULL;
    err = jc_envelope_parse(p, n, 0, &env, errstr, sizeof(errstr));
    if (err) {
        CHECK_MSG(errstr[0] != '\0', "parse error %d without text", (int)err);
        return err;
    }
    verr = jc_envelope_verify(&env, sample_key);
    derr = jc_msg_decode_reason(&env, &m, reason, errstr, sizeof(errstr));
    if (derr)
        CHECK_MSG(errstr[0] != '\0', "decode error %d without text", (int)derr);
    jc_msg_release(&m);
    return verr ? verr : derr;
}

/* run_signed seals signed bytes for principal with the sample key and runs
 * them through the receiver's steps. */
static jc_err_t run_signed(const void *sig, size_t n, const char *principal, const char **reason)
{
    msgpack_sbuffer env;
    jc_slice p = jc_slice_str(principal), kid = jc_slice_str(SAMPLE_KEY_ID);
    jc_err_t err;

    msgpack_sbuffer_init(&env);
    err = jc_envelope_seal(&p, &kid, sample_key, sig, n, &env);
    CHECK_EQ_INT(err, JC_OK);
    if (!err)
        err = run_envelope((const uint8_t *)env.data, env.size, reason);
    msgpack_sbuffer_destroy(&env);
    return err;
}

/* rebuild unpacks sig, applies op to the top map (body == 0) or to the body
 * map "b" (body == 1) at entry idx, and packs the result into out. */
static void rebuild(const msgpack_sbuffer *sig, int body, enum op op, uint32_t idx,
                    msgpack_object key, msgpack_object val, msgpack_sbuffer *out)
{
    msgpack_zone z;
    msgpack_object root;
    msgpack_object_kv top[8], kvs[80];
    msgpack_object *map = &root;
    msgpack_packer pk;
    uint32_t n = 0;
    size_t off = 0;

    msgpack_zone_init(&z, 4096);
    CHECK(msgpack_unpack(sig->data, sig->size, &off, &z, &root) == MSGPACK_UNPACK_SUCCESS);
    if (body) {
        memcpy(top, root.via.map.ptr, root.via.map.size * sizeof(top[0]));
        root.via.map.ptr = top;
        map = &top[4].val; /* canonical order: t, id, ts, p, b */
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (op == OP_REMOVE && i == idx)
            continue;
        kvs[n] = map->via.map.ptr[i];
        if (op == OP_REPLACE && i == idx)
            kvs[n].val = val;
        n++;
    }
    if (op == OP_ADD) {
        kvs[n].key = key;
        kvs[n++].val = val;
    }
    if (op == OP_DUP)
        kvs[n++] = map->via.map.ptr[idx];
    map->via.map.ptr = kvs;
    map->via.map.size = n;
    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, root);
    msgpack_zone_destroy(&z);
}

/* str_obj makes a str object over s. */
static msgpack_object str_obj(const char *s, size_t n)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_STR};

    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)n;
    return o;
}

/* sample_signed encodes sample i's signed bytes into out. */
static void sample_signed(int i, jc_msg *m, msgpack_sbuffer *out)
{
    char errstr[256];

    sample_get(i, m);
    CHECK_EQ_INT(jc_msg_encode_signed(m, out, errstr, sizeof(errstr)), JC_OK);
}

/* map_of returns the top map (body == 0) or the body map of signed bytes,
 * unpacked into z. */
static msgpack_object map_of(const msgpack_sbuffer *sig, int body, msgpack_zone *z)
{
    msgpack_object root;
    size_t off = 0;

    msgpack_unpack(sig->data, sig->size, &off, z, &root);
    return body ? root.via.map.ptr[4].val : root;
}

/* test_fields edits every field of every sample: wrong types, removals
 * (required fields of minimal samples), unknown and repeated keys. */
static void test_fields(void)
{
    static const uint8_t bin16[16] = {1};
    msgpack_object repl[10];
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};

    memset(repl, 0, sizeof(repl));
    repl[0].type = MSGPACK_OBJECT_NIL;
    repl[1].type = MSGPACK_OBJECT_BOOLEAN;
    repl[1].via.boolean = true;
    repl[2].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    repl[2].via.u64 = 7;
    repl[3].type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    repl[3].via.i64 = -7;
    repl[4].type = MSGPACK_OBJECT_FLOAT64;
    repl[4].via.f64 = 1.5;
    repl[5] = str_obj("x", 1);
    repl[6].type = MSGPACK_OBJECT_BIN;
    repl[6].via.bin.ptr = (const char *)bin16;
    repl[6].via.bin.size = 16;
    repl[7].type = MSGPACK_OBJECT_ARRAY;
    repl[8].type = MSGPACK_OBJECT_MAP;
    repl[9].type = MSGPACK_OBJECT_EXT;
    repl[9].via.ext.type = 5;
    repl[9].via.ext.ptr = (const char *)bin16;
    repl[9].via.ext.size = 1;

    for (int s = 0; s < sample_count(); s++) {
        msgpack_sbuffer sig, out;
        jc_msg m;

        msgpack_sbuffer_init(&sig);
        msgpack_sbuffer_init(&out);
        sample_signed(s, &m, &sig);
        for (int body = 0; body <= 1; body++) {
            msgpack_zone z;
            msgpack_object map;
            const char *p = (const char *)m.principal.p;

            msgpack_zone_init(&z, 4096);
            map = map_of(&sig, body, &z);
            for (uint32_t i = 0; i < map.via.map.size; i++) {
                const msgpack_object *k = &map.via.map.ptr[i].key;
                const msgpack_object *v = &map.via.map.ptr[i].val;
                int is_prio = k->via.str.size == 4 && memcmp(k->via.str.ptr, "prio", 4) == 0;
                char name[64];
                jc_err_t err;

                snprintf(name, sizeof(name), "%s %s.%.*s", sample_get(s, &m), body ? "b" : "top",
                         (int)k->via.str.size, k->via.str.ptr);
                for (size_t r = 0; r < sizeof(repl) / sizeof(repl[0]); r++) {
                    if (repl[r].type == v->type || (is_prio && r == 2))
                        continue;
                    rebuild(&sig, body, OP_REPLACE, i, nil, repl[r], &out);
                    err = run_signed(out.data, out.size, p, NULL);
                    CHECK_MSG(err == JC_ERR_SCHEMA, "%s as type %d: %d", name, (int)repl[r].type,
                              (int)err);
                }
                if (!body || sample_minimal(s)) {
                    rebuild(&sig, body, OP_REMOVE, i, nil, nil, &out);
                    err = run_signed(out.data, out.size, p, NULL);
                    CHECK_MSG(err == JC_ERR_SCHEMA, "%s removed: %d", name, (int)err);
                }
            }
            rebuild(&sig, body, OP_ADD, 0, str_obj("zzz", 3), repl[2], &out);
            CHECK_EQ_INT(run_signed(out.data, out.size, p, NULL), JC_ERR_SCHEMA);
            rebuild(&sig, body, OP_ADD, 0, repl[2], repl[2], &out); /* non-str key */
            CHECK_EQ_INT(run_signed(out.data, out.size, p, NULL), JC_ERR_SCHEMA);
            if (map.via.map.size > 0) {
                rebuild(&sig, body, OP_DUP, map.via.map.size - 1, nil, nil, &out);
                CHECK_EQ_INT(run_signed(out.data, out.size, p, NULL), JC_ERR_SCHEMA);
            }
            msgpack_zone_destroy(&z);
        }
        msgpack_sbuffer_destroy(&sig);
        msgpack_sbuffer_destroy(&out);
    }
}

/* add_field adds key: val to the body of sample s and returns the result
 * of decoding it. */
static jc_err_t add_field(int s, const char *key, msgpack_object val)
{
    msgpack_sbuffer sig, out;
    jc_msg m;
    jc_err_t err;

    msgpack_sbuffer_init(&sig);
    msgpack_sbuffer_init(&out);
    sample_signed(s, &m, &sig);
    rebuild(&sig, 1, OP_ADD, 0, str_obj(key, strlen(key)), val, &out);
    err = run_signed(out.data, out.size, (const char *)m.principal.p, NULL);
    msgpack_sbuffer_destroy(&sig);
    msgpack_sbuffer_destroy(&out);
    return err;
}

/* set_field replaces body field key of sample s with val and decodes. */
static jc_err_t set_field(int s, const char *key, msgpack_object val)
{
    msgpack_sbuffer sig, out;
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    msgpack_zone z;
    msgpack_object map;
    jc_msg m;
    jc_err_t err = JC_ERR__END;

    msgpack_sbuffer_init(&sig);
    msgpack_sbuffer_init(&out);
    msgpack_zone_init(&z, 4096);
    sample_signed(s, &m, &sig);
    map = map_of(&sig, 1, &z);
    for (uint32_t i = 0; i < map.via.map.size; i++) {
        const msgpack_object *k = &map.via.map.ptr[i].key;

        if (k->via.str.size == strlen(key) && memcmp(k->via.str.ptr, key, strlen(key)) == 0) {
            rebuild(&sig, 1, OP_REPLACE, i, nil, val, &out);
            err = run_signed(out.data, out.size, (const char *)m.principal.p, NULL);
        }
    }
    CHECK_MSG(err != JC_ERR__END, "sample %d has no field %s", s, key);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sig);
    msgpack_sbuffer_destroy(&out);
    return err;
}

/* uint_obj / bool_obj / bin_obj make scalar objects. */
static msgpack_object uint_obj(uint64_t v)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};

    o.via.u64 = v;
    return o;
}

static msgpack_object bool_obj(int v)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_BOOLEAN};

    o.via.boolean = v != 0;
    return o;
}

static msgpack_object bin_obj(const void *p, size_t n)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_BIN};

    o.via.bin.ptr = p;
    o.via.bin.size = (uint32_t)n;
    return o;
}

/* test_values checks value rules the decoder applies to crafted input. */
static void test_values(void)
{
    static char big[JC_MAX_PAYLOAD_BYTES + 2];
    static msgpack_object items[JC_MAX_RUNNING + 1];
    static msgpack_object pairs[JC_MAX_RUNNING + 1][2];
    static msgpack_object_kv kvs[JC_MAX_SETTINGS + 1];
    static char keys[JC_MAX_SETTINGS + 1][8];
    static const uint8_t id[16] = {9};
    msgpack_object arr = {.type = MSGPACK_OBJECT_ARRAY};
    msgpack_object map = {.type = MSGPACK_OBJECT_MAP};
    msgpack_object empty_map = {.type = MSGPACK_OBJECT_MAP};

    memset(big, 'a', sizeof(big));
    /* Sample indexes: see samples.c. */
    CHECK_EQ_INT(set_field(9, "text", str_obj(big, JC_MAX_TEXT_LEN + 1)), JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(set_field(9, "text", str_obj(big, JC_MAX_TEXT_LEN)), JC_OK);
    CHECK_EQ_INT(set_field(9, "text", str_obj("\xc3", 1)), JC_ERR_SCHEMA); /* bad UTF-8 */
    CHECK_EQ_INT(set_field(9, "stream", str_obj("stdin", 5)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(2, "ikey", str_obj(big, JC_MAX_IKEY_LEN + 1)), JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(set_field(2, "type", str_obj(big, JC_MAX_NAME_LEN + 1)), JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(set_field(2, "type", str_obj("a b", 3)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(2, "type", str_obj("", 0)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(2, "payload", bin_obj(big, JC_MAX_PAYLOAD_BYTES + 1)), JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(set_field(2, "payload", bin_obj(big, JC_MAX_PAYLOAD_BYTES)), JC_OK);
    CHECK_EQ_INT(set_field(2, "att", uint_obj(0)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(2, "att", uint_obj(101)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(2, "att", uint_obj(1ull << 32)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(2, "prio", uint_obj(1001)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(2, "timeout", uint_obj(0)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(0, "host", str_obj(big, JC_MAX_HOST_LEN + 1)), JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(set_field(0, "ver", str_obj("1.0\n", 4)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(0, "slots", uint_obj(JC_MAX_SLOTS + 1)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(8, "pct", uint_obj(101)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(6, "kind", str_obj("exploded", 8)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(6, "att", uint_obj(0)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(13, "worker", str_obj("worker-2", 8)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(13, "kind", str_obj("reboot", 6)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(20, "state", str_obj("lost", 4)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(22, "level", str_obj("fatal", 5)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(9, "text", str_obj(big, JC_MAX_TEXT_LEN + 1)), JC_ERR_TOO_LARGE);

    /* "Only with" rules, on presence. */
    CHECK_EQ_INT(add_field(7, "retry", bool_obj(0)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(add_field(7, "pct", uint_obj(5)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(add_field(7, "stream", str_obj("stdout", 6)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(add_field(7, "result", bin_obj("r", 1)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(add_field(7, "text", str_obj("note", 4)), JC_OK);
    CHECK_EQ_INT(add_field(11, "stream", str_obj("stdout", 6)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(add_field(15, "job", bin_obj(id, 16)), JC_ERR_SCHEMA); /* drain + job */
    CHECK_EQ_INT(add_field(13, "reason", str_obj("r", 1)), JC_ERR_SCHEMA);
    /* Optional values present but empty; explicit defaults. */
    CHECK_EQ_INT(add_field(5, "reason", str_obj("", 0)), JC_ERR_SCHEMA);
    CHECK_EQ_INT(add_field(23, "meta", empty_map), JC_ERR_SCHEMA);
    CHECK_EQ_INT(add_field(3, "att", uint_obj(3)), JC_OK);
    CHECK_EQ_INT(add_field(3, "prio", uint_obj(0)), JC_OK);
    CHECK_EQ_INT(add_field(1, "drain", bool_obj(0)), JC_OK);

    /* Too many entries. */
    for (int i = 0; i <= JC_MAX_RUNNING; i++)
        items[i] = str_obj("cap", 3);
    arr.via.array.ptr = items;
    arr.via.array.size = JC_MAX_CAPS + 1;
    CHECK_EQ_INT(set_field(0, "caps", arr), JC_ERR_TOO_LARGE);
    arr.via.array.size = JC_MAX_CAPS;
    CHECK_EQ_INT(set_field(0, "caps", arr), JC_OK);
    for (int i = 0; i <= JC_MAX_RUNNING; i++) {
        pairs[i][0] = bin_obj(id, 16);
        pairs[i][1] = uint_obj(1);
        items[i].type = MSGPACK_OBJECT_ARRAY;
        items[i].via.array.ptr = pairs[i];
        items[i].via.array.size = 2;
    }
    arr.via.array.size = JC_MAX_RUNNING + 1;
    CHECK_EQ_INT(set_field(0, "running", arr), JC_ERR_TOO_LARGE);
    arr.via.array.size = JC_MAX_RUNNING;
    CHECK_EQ_INT(set_field(0, "running", arr), JC_OK);
    pairs[0][1] = uint_obj(0);
    arr.via.array.size = 1;
    CHECK_EQ_INT(set_field(0, "running", arr), JC_ERR_SCHEMA);
    items[0].via.array.size = 1;
    CHECK_EQ_INT(set_field(0, "running", arr), JC_ERR_SCHEMA);
    for (int i = 0; i <= JC_MAX_SETTINGS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        kvs[i].key = str_obj(keys[i], strlen(keys[i]));
        kvs[i].val = str_obj("v", 1);
    }
    map.via.map.ptr = kvs;
    map.via.map.size = JC_MAX_SETTINGS + 1;
    CHECK_EQ_INT(set_field(17, "settings", map), JC_ERR_TOO_LARGE);
    map.via.map.size = JC_MAX_SETTINGS;
    CHECK_EQ_INT(set_field(17, "settings", map), JC_OK);
    kvs[1].key = kvs[0].key;
    CHECK_EQ_INT(set_field(17, "settings", map), JC_ERR_SCHEMA); /* repeated key */
    kvs[1].key = str_obj("k1", 2);
    kvs[1].val = str_obj(big, JC_MAX_SETTING_LEN + 1);
    CHECK_EQ_INT(set_field(17, "settings", map), JC_ERR_TOO_LARGE);
    kvs[1].val = uint_obj(1);
    CHECK_EQ_INT(set_field(17, "settings", map), JC_ERR_SCHEMA);
    CHECK_EQ_INT(set_field(17, "settings", empty_map), JC_OK); /* required, may be empty */
}

/* test_encoder_refuses checks that the encoder refuses what the decoder
 * would reject. */
static void test_encoder_refuses(void)
{
    static jc_slice many_caps[JC_MAX_CAPS + 1];
    static jc_kv kv[JC_MAX_SETTINGS + 1];
    static char big[JC_MAX_TEXT_LEN + 2];
    msgpack_sbuffer out;
    char errstr[256];
    jc_msg m;

#define REFUSE(sample, change, expect)                                                             \
    do {                                                                                           \
        sample_get(sample, &m);                                                                    \
        change;                                                                                    \
        errstr[0] = '\0';                                                                          \
        CHECK_EQ_INT(jc_msg_encode_signed(&m, &out, errstr, sizeof(errstr)), expect);              \
        CHECK(errstr[0] != '\0');                                                                  \
        CHECK_EQ_INT(out.size, 0);                                                                 \
    } while (0)

    msgpack_sbuffer_init(&out);
    memset(big, 'x', sizeof(big));
    for (int i = 0; i <= JC_MAX_CAPS; i++)
        many_caps[i] = jc_slice_str("cap");
    for (int i = 0; i <= JC_MAX_SETTINGS; i++)
        kv[i] = (jc_kv){jc_slice_str("same"), jc_slice_str("v")};
    REFUSE(0, m.type = JC_MSG_NONE, JC_ERR_SCHEMA);
    /* U+0000 inside text: valid UTF-8, but no text column can store it */
    REFUSE(0, m.u.hb.host = ((jc_slice){(const uint8_t *)"a\0b", 3}), JC_ERR_SCHEMA);
    REFUSE(0, m.principal = jc_slice_str("bad principal"), JC_ERR_SCHEMA);
    REFUSE(0, m.u.hb.slots = JC_MAX_SLOTS + 1, JC_ERR_SCHEMA);
    REFUSE(0, (m.u.hb.caps = many_caps, m.u.hb.n_caps = JC_MAX_CAPS + 1), JC_ERR_TOO_LARGE);
    REFUSE(0, m.u.hb.caps[0] = jc_slice_str("a b"), JC_ERR_SCHEMA);
    REFUSE(0, m.u.hb.running[0].attempt = 0, JC_ERR_SCHEMA);
    REFUSE(0, m.u.hb.version = jc_slice_str("v\t1"), JC_ERR_SCHEMA);
    REFUSE(0, m.u.hb.host = jc_slice_str("\xff"), JC_ERR_SCHEMA);
    REFUSE(0, m.u.hb.n_running = 5000, JC_ERR_TOO_LARGE);
    REFUSE(0, m.u.hb.host = ((jc_slice){NULL, 3}), JC_ERR_INVALID_ARG);
    REFUSE(2, m.u.submit.priority = 1001, JC_ERR_SCHEMA);
    REFUSE(2, m.u.submit.max_attempts = 0, JC_ERR_SCHEMA);
    REFUSE(2, m.u.submit.timeout_ms = 0, JC_ERR_SCHEMA);
    REFUSE(2, m.u.submit.type = jc_slice_str(""), JC_ERR_SCHEMA);
    REFUSE(2, m.u.submit.ikey = ((jc_slice){(const uint8_t *)big, JC_MAX_IKEY_LEN + 1}),
           JC_ERR_TOO_LARGE);
    REFUSE(2, m.u.submit.payload.n = JC_MAX_PAYLOAD_BYTES + 1, JC_ERR_TOO_LARGE);
    REFUSE(7, (m.u.event.has_progress = 1, m.u.event.progress = 5), JC_ERR_SCHEMA);
    REFUSE(8, m.u.event.has_progress = 0, JC_ERR_SCHEMA);
    REFUSE(8, m.u.event.progress = 101, JC_ERR_SCHEMA);
    REFUSE(7, m.u.event.stream = jc_slice_str("stdout"), JC_ERR_SCHEMA);
    REFUSE(9, m.u.event.stream = jc_slice_str("stdin"), JC_ERR_SCHEMA);
    REFUSE(7, m.u.event.result = jc_slice_str("r"), JC_ERR_SCHEMA);
    REFUSE(7, m.u.event.retryable = 1, JC_ERR_SCHEMA);
    REFUSE(7, m.u.event.kind = JC_EV_NONE, JC_ERR_SCHEMA);
    REFUSE(7, m.u.event.attempt = JC_MAX_ATTEMPTS + 1, JC_ERR_SCHEMA);
    REFUSE(9, m.u.event.text = ((jc_slice){(const uint8_t *)big, JC_MAX_TEXT_LEN + 1}),
           JC_ERR_TOO_LARGE);
    REFUSE(13, m.u.cmd.worker = jc_slice_str("worker-2"), JC_ERR_SCHEMA);
    REFUSE(13, m.u.cmd.kind = JC_CMD__COUNT, JC_ERR_SCHEMA);
    REFUSE(13, m.u.cmd.timeout_ms = 0, JC_ERR_SCHEMA);
    REFUSE(14, m.u.cmd.attempt = 0, JC_ERR_SCHEMA);
    REFUSE(17, (m.u.cmd.settings = kv, m.u.cmd.n_settings = JC_MAX_SETTINGS + 1), JC_ERR_TOO_LARGE);
    REFUSE(17, (m.u.cmd.settings = kv, m.u.cmd.n_settings = 2), JC_ERR_SCHEMA);
    REFUSE(18, m.u.ack.error = jc_slice_str("\xc3("), JC_ERR_SCHEMA);
    REFUSE(20, m.u.update.state = jc_slice_str("lost"), JC_ERR_SCHEMA);
    REFUSE(20, m.u.update.attempt = 101, JC_ERR_SCHEMA);
    REFUSE(22, m.u.wevent.level = jc_slice_str("fatal"), JC_ERR_SCHEMA);
    REFUSE(22, m.u.wevent.kind = jc_slice_str(""), JC_ERR_SCHEMA);
    REFUSE(22, m.u.wevent.meta[0].key = jc_slice_str("a=b"), JC_ERR_SCHEMA);
#undef REFUSE
    msgpack_sbuffer_destroy(&out);
}

/* put_envelope packs an envelope map by hand: v as given (negative: as a
 * str), and optional extra or missing fields. */
static void put_envelope(msgpack_sbuffer *out, int64_t v, const char *p, const void *s,
                         size_t s_len, const void *mac, size_t mac_len, int extra)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5u + (extra != 0));
    msgpack_pack_str_with_body(&pk, "v", 1);
    if (v >= 0)
        msgpack_pack_uint64(&pk, (uint64_t)v);
    else
        msgpack_pack_str_with_body(&pk, "1", 1);
    msgpack_pack_str_with_body(&pk, "p", 1);
    msgpack_pack_str_with_body(&pk, p, strlen(p));
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_str_with_body(&pk, "k1", 2);
    msgpack_pack_str_with_body(&pk, "s", 1);
    msgpack_pack_bin_with_body(&pk, s, s_len);
    msgpack_pack_str_with_body(&pk, "m", 1);
    msgpack_pack_bin_with_body(&pk, mac, mac_len);
    if (extra == 1) {
        msgpack_pack_str_with_body(&pk, "x", 1);
        msgpack_pack_nil(&pk);
    } else if (extra == 2) {
        msgpack_pack_str_with_body(&pk, "p", 1);
        msgpack_pack_str_with_body(&pk, p, strlen(p));
    }
}

/* test_envelope checks the envelope's own rules and the signature. */
static void test_envelope(void)
{
    msgpack_sbuffer sig, env;
    uint8_t mac[JC_MAC_LEN], other_key[JC_KEY_LEN];
    jc_envelope e;
    char errstr[256];
    const char *reason = NULL;
    jc_msg m;

    msgpack_sbuffer_init(&sig);
    msgpack_sbuffer_init(&env);
    sample_signed(0, &m, &sig);
    crypto_auth_hmacsha256(mac, (const uint8_t *)sig.data, sig.size, sample_key);

    put_envelope(&env, 1, "worker-1", sig.data, sig.size, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_OK);
    put_envelope(&env, 3, "worker-1", sig.data, sig.size, mac, sizeof(mac), 1);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_BAD_VERSION);
    put_envelope(&env, 2, "worker-1", sig.data, sig.size, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_OK);
    put_envelope(&env, 0, "worker-1", sig.data, sig.size, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_BAD_VERSION);
    put_envelope(&env, -1, "worker-1", sig.data, sig.size, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_SCHEMA);
    put_envelope(&env, 1, "worker-1", sig.data, sig.size, mac, sizeof(mac), 1);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_SCHEMA);
    put_envelope(&env, 1, "worker-1", sig.data, sig.size, mac, sizeof(mac), 2);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_SCHEMA);
    put_envelope(&env, 1, "worker-1", sig.data, sig.size, mac, sizeof(mac) - 1, 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_SCHEMA);
    put_envelope(&env, 1, "worker-1", sig.data, 0, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_SCHEMA);
    put_envelope(&env, 1, "worker 1", sig.data, sig.size, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_SCHEMA);
    put_envelope(&env, 1, "", sig.data, sig.size, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_SCHEMA);
    CHECK_EQ_INT(run_envelope((const uint8_t *)"\x91\x01", 2, NULL), JC_ERR_SCHEMA);

    /* Principal mismatch: a valid MAC by worker-2's key over worker-1's payload. */
    put_envelope(&env, 1, "worker-2", sig.data, sig.size, mac, sizeof(mac), 0);
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, &reason), JC_ERR_SCHEMA);
    CHECK_EQ_STR(reason, "principal_mismatch");

    /* Bad signatures: tampered MAC, tampered signed bytes, wrong key. */
    put_envelope(&env, 1, "worker-1", sig.data, sig.size, mac, sizeof(mac), 0);
    env.data[env.size - 1] ^= 1;
    CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_ERR_BAD_SIGNATURE);
    put_envelope(&env, 1, "worker-1", sig.data, sig.size, mac, sizeof(mac), 0);
    for (size_t i = 0; i < sig.size; i++) {
        /* The signed bytes sit right before "m": flip each in turn. */
        size_t at = env.size - (2 + 2 + JC_MAC_LEN) - sig.size + i;

        env.data[at] ^= 0x20;
        CHECK(jc_envelope_parse((const uint8_t *)env.data, env.size, 0, &e, errstr,
                                sizeof(errstr)) == JC_OK);
        CHECK_EQ_INT(jc_envelope_verify(&e, sample_key), JC_ERR_BAD_SIGNATURE);
        env.data[at] ^= 0x20;
    }
    for (int i = 0; i < JC_KEY_LEN; i++)
        other_key[i] = sample_key[i];
    other_key[7] ^= 0x80;
    CHECK(jc_envelope_parse((const uint8_t *)env.data, env.size, 0, &e, errstr, sizeof(errstr)) ==
          JC_OK);
    CHECK_EQ_INT(jc_envelope_verify(&e, sample_key), JC_OK);
    CHECK_EQ_INT(jc_envelope_verify(&e, other_key), JC_ERR_BAD_SIGNATURE);
    CHECK_EQ_INT(jc_envelope_verify(NULL, sample_key), JC_ERR_BAD_SIGNATURE);

    /* Size caps. */
    CHECK_EQ_INT(jc_envelope_parse((const uint8_t *)env.data, env.size, env.size - 1, &e, errstr,
                                   sizeof(errstr)),
                 JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(jc_envelope_parse((const uint8_t *)env.data, env.size, env.size, &e, errstr,
                                   sizeof(errstr)),
                 JC_OK);
    {
        uint8_t *huge = calloc(1, JC_MAX_MESSAGE_BYTES + 1);

        CHECK_EQ_INT(
            jc_envelope_parse(huge, JC_MAX_MESSAGE_BYTES + 1, 0, &e, errstr, sizeof(errstr)),
            JC_ERR_TOO_LARGE);
        CHECK_EQ_INT(jc_envelope_parse(huge, JC_MAX_MESSAGE_BYTES + 1, 4 * JC_MAX_MESSAGE_BYTES, &e,
                                       errstr, sizeof(errstr)),
                     JC_ERR_TOO_LARGE);
        free(huge);
    }
    msgpack_sbuffer_destroy(&sig);
    msgpack_sbuffer_destroy(&env);
}

/* test_truncation cuts every sample's envelope at every length. */
static void test_truncation(void)
{
    for (int s = 0; s < sample_count(); s++) {
        msgpack_sbuffer env;
        jc_msg m;

        msgpack_sbuffer_init(&env);
        sample_get(s, &m);
        CHECK_EQ_INT(seal_sample(&m, &env), JC_OK);
        for (size_t n = 0; n < env.size; n++) {
            /* A copy of exactly n bytes, so ASan sees any over-read. */
            uint8_t *cut = malloc(n ? n : 1);

            memcpy(cut, env.data, n);
            CHECK_EQ_INT(run_envelope(cut, n, NULL), JC_ERR_MALFORMED);
            free(cut);
        }
        CHECK_EQ_INT(run_envelope((const uint8_t *)env.data, env.size, NULL), JC_OK);
        msgpack_sbuffer_destroy(&env);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_fields();
    test_values();
    test_encoder_refuses();
    test_envelope();
    test_truncation();
    return check_done("test_proto_hostile");
}
