/*
 * test_proto_roundtrip.c - every sample message goes encode -> seal ->
 * parse -> verify -> decode and comes back equal; the helpers of proto_util
 * (names, ids, slices) answer as documented.
 */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "samples.h"

/* roundtrip_one checks one sample all the way through the codec. */
static void roundtrip_one(int i)
{
    jc_msg in, out;
    jc_envelope env;
    msgpack_sbuffer buf;
    char errstr[256] = "";
    char why[128] = "";
    const char *name = sample_get(i, &in);
    jc_err_t err;

    msgpack_sbuffer_init(&buf);
    err = seal_sample(&in, &buf);
    CHECK_MSG(err == JC_OK, "%s: seal", name);
    err = jc_envelope_parse((const uint8_t *)buf.data, buf.size, 0, &env, errstr, sizeof(errstr));
    CHECK_MSG(err == JC_OK, "%s: parse: %s", name, errstr);
    CHECK_EQ_INT(env.version, 1);
    CHECK(env.principal.n == in.principal.n &&
          memcmp(env.principal.p, in.principal.p, in.principal.n) == 0);
    CHECK(env.key_id.n == 2 && memcmp(env.key_id.p, SAMPLE_KEY_ID, 2) == 0);
    CHECK_EQ_INT(jc_envelope_verify(&env, sample_key), JC_OK);
    err = jc_msg_decode(&env, &out, errstr, sizeof(errstr));
    CHECK_MSG(err == JC_OK, "%s: decode: %s", name, errstr);
    if (err == JC_OK) {
        CHECK_MSG(msg_equal(&in, &out, why, sizeof(why)), "%s: %s", name, why);
        /* Slices point into the input buffer, not into copies. */
        CHECK(out.principal.p >= (const uint8_t *)buf.data &&
              out.principal.p < (const uint8_t *)buf.data + buf.size);
    }
    jc_msg_release(&out);
    jc_msg_release(&out); /* idempotent */
    msgpack_sbuffer_destroy(&buf);
}

/* test_canonical checks that the encoder is deterministic and that a
 * re-encoding of a decoded message gives the same signed bytes. */
static void test_canonical(void)
{
    for (int i = 0; i < sample_count(); i++) {
        jc_msg in, out;
        jc_envelope env;
        msgpack_sbuffer a, b;
        char errstr[256] = "";
        const char *name = sample_get(i, &in);

        msgpack_sbuffer_init(&a);
        msgpack_sbuffer_init(&b);
        CHECK_EQ_INT(jc_msg_encode_signed(&in, &a, errstr, sizeof(errstr)), JC_OK);
        CHECK_EQ_INT(seal_sample(&in, &b), JC_OK);
        CHECK(jc_envelope_parse((const uint8_t *)b.data, b.size, 0, &env, errstr, sizeof(errstr)) ==
              JC_OK);
        CHECK(env.signed_bytes.n == a.size && memcmp(env.signed_bytes.p, a.data, a.size) == 0);
        if (jc_msg_decode(&env, &out, errstr, sizeof(errstr)) == JC_OK) {
            msgpack_sbuffer c;

            msgpack_sbuffer_init(&c);
            CHECK_EQ_INT(jc_msg_encode_signed(&out, &c, errstr, sizeof(errstr)), JC_OK);
            CHECK_MSG(c.size == a.size && memcmp(c.data, a.data, a.size) == 0,
                      "%s: re-encoding differs", name);
            msgpack_sbuffer_destroy(&c);
            jc_msg_release(&out);
        }
        msgpack_sbuffer_destroy(&a);
        msgpack_sbuffer_destroy(&b);
    }
}

/* test_names checks the name tables both ways. */
static void test_names(void)
{
    for (int t = JC_MSG_NONE + 1; t < JC_MSG__COUNT; t++) {
        const char *n = jc_msg_type_name((jc_msg_type)t);

        CHECK(n != NULL);
        CHECK(jc_msg_type_topic((jc_msg_type)t) != NULL);
        if (n != NULL)
            CHECK_EQ_INT(jc_msg_type_parse((const uint8_t *)n, strlen(n)), t);
    }
    for (int k = JC_EV_NONE + 1; k < JC_EV__COUNT; k++) {
        const char *n = jc_job_event_kind_name((jc_job_event_kind)k);

        CHECK(n != NULL);
        if (n != NULL)
            CHECK_EQ_INT(jc_job_event_kind_parse((const uint8_t *)n, strlen(n)), k);
    }
    for (int k = JC_CMD_NONE + 1; k < JC_CMD__COUNT; k++) {
        const char *n = jc_command_kind_name((jc_command_kind)k);

        CHECK(n != NULL);
        if (n != NULL)
            CHECK_EQ_INT(jc_command_kind_parse((const uint8_t *)n, strlen(n)), k);
    }
    CHECK(jc_msg_type_name(JC_MSG_NONE) == NULL);
    CHECK(jc_msg_type_name(JC_MSG__COUNT) == NULL);
    CHECK_EQ_INT(jc_msg_type_parse((const uint8_t *)"heartbeatx", 10), JC_MSG_NONE);
    CHECK_EQ_INT(jc_msg_type_parse((const uint8_t *)"heartbea", 8), JC_MSG_NONE);
    CHECK_EQ_INT(jc_msg_type_parse(NULL, 0), JC_MSG_NONE);
    CHECK_EQ_STR(jc_msg_type_topic(JC_MSG_JOB_CANCEL), "job-requests");
    CHECK_EQ_STR(jc_msg_type_topic(JC_MSG_WORKER_EVENT), "worker-events");
    CHECK_EQ_STR(jc_err_reason(JC_ERR_LIMIT), "limit");
    CHECK(jc_err_reason(JC_ERR_NOMEM) == NULL);
}

/* test_util checks ids, slices, names and the clock. */
static void test_util(void)
{
    uint8_t id[JC_ID_LEN], back[JC_ID_LEN], a[JC_ID_LEN], b[JC_ID_LEN];
    char text[37];
    char repr[8];

    for (int i = 0; i < JC_ID_LEN; i++)
        id[i] = (uint8_t)(i * 17);
    jc_id_format(id, text);
    CHECK_EQ_STR(text, "00112233-4455-6677-8899-aabbccddeeff");
    CHECK_EQ_INT(jc_id_parse(text, back), 0);
    CHECK(memcmp(id, back, JC_ID_LEN) == 0);
    CHECK_EQ_INT(jc_id_parse("00112233-4455-6677-8899-AABBCCDDEEFF", back), 0);
    CHECK(memcmp(id, back, JC_ID_LEN) == 0);
    CHECK_EQ_INT(jc_id_parse("00112233-4455-6677-8899-aabbccddeef", back), -1);
    CHECK_EQ_INT(jc_id_parse("00112233-4455-6677-8899-aabbccddeeff0", back), -1);
    CHECK_EQ_INT(jc_id_parse("0011223304455-6677-8899-aabbccddeeff", back), -1);
    CHECK_EQ_INT(jc_id_parse("00112233-4455-6677-8899-aabbccddeefg", back), -1);
    CHECK_EQ_INT(jc_id_parse(NULL, back), -1);
    jc_id_random(a);
    jc_id_random(b);
    CHECK(memcmp(a, b, JC_ID_LEN) != 0);

    CHECK(jc_slice_eq(jc_slice_str("abc"), "abc"));
    CHECK(!jc_slice_eq(jc_slice_str("abc"), "abd"));
    CHECK(!jc_slice_eq(jc_slice_str("abc"), "ab"));
    CHECK(jc_slice_eq(jc_slice_str(NULL), ""));
    CHECK(jc_slice_eq(jc_slice_str(""), NULL));

    CHECK(jc_name_valid((const uint8_t *)"worker-1.a_b:c@d", 16, 64));
    CHECK(!jc_name_valid((const uint8_t *)"", 0, 64));
    CHECK(!jc_name_valid((const uint8_t *)"a b", 3, 64));
    CHECK(!jc_name_valid((const uint8_t *)"a/b", 3, 64));
    CHECK(!jc_name_valid((const uint8_t *)"abcd", 4, 3));

    CHECK(jc_utf8_valid((const uint8_t *)"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80", 15));
    CHECK(!jc_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
    CHECK(!jc_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!jc_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!jc_utf8_valid((const uint8_t *)"\xe2\x9c", 2));         /* truncated */
    CHECK(!jc_utf8_valid((const uint8_t *)"\x80", 1));

    jc_proto_repr("ab\ncdefghij", 11, repr, sizeof(repr));
    CHECK_EQ_STR(repr, "ab?c...");
    jc_proto_repr("abc", 3, repr, sizeof(repr));
    CHECK_EQ_STR(repr, "abc");

    CHECK(jc_now_ms() > 1600000000000ull);
}

/* encodes_ok reports whether the encoder accepts m. */
static int encodes_ok(const jc_msg *m)
{
    msgpack_sbuffer b;
    char errstr[256] = "";
    jc_err_t err;

    msgpack_sbuffer_init(&b);
    err = jc_msg_encode_signed(m, &b, errstr, sizeof(errstr));
    msgpack_sbuffer_destroy(&b);
    return err == JC_OK;
}

/* test_uint_limit: every uint field without a smaller range holds at most
 * 2^53-1 (PROTOCOL.md section 3.1), so that no accepted value can fail when
 * PostgreSQL stores it. The encoder refuses what the decoder would. */
static void test_uint_limit(void)
{
    for (int i = 0; i < sample_count(); i++) {
        jc_msg m;
        const char *name = sample_get(i, &m);

        m.ts_ms = JC_MAX_UINT;
        CHECK_MSG(encodes_ok(&m), "%s: ts 2^53-1 accepted", name);
        m.ts_ms = JC_MAX_UINT + 1;
        CHECK_MSG(!encodes_ok(&m), "%s: ts 2^53 refused", name);
        m.ts_ms = UINT64_MAX;
        CHECK_MSG(!encodes_ok(&m), "%s: ts 2^64-1 refused", name);
        m.ts_ms = 1700000000000ull;
        if (m.type == JC_MSG_HEARTBEAT) {
            uint64_t *fields[] = {&m.u.hb.uptime_s, &m.u.hb.seq, &m.u.hb.config_version};
            m.u.hb.has_config_version = 1;
            for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
                uint64_t keep = *fields[f];
                *fields[f] = JC_MAX_UINT;
                CHECK_MSG(encodes_ok(&m), "%s: heartbeat field %zu at 2^53-1", name, f);
                *fields[f] = JC_MAX_UINT + 1;
                CHECK_MSG(!encodes_ok(&m), "%s: heartbeat field %zu at 2^53", name, f);
                *fields[f] = keep;
            }
        }
        if (m.type == JC_MSG_JOB_SUBMIT) {
            m.u.submit.has_run_after = 1;
            m.u.submit.run_after_ms = JC_MAX_UINT;
            CHECK_MSG(encodes_ok(&m), "%s: after 2^53-1", name);
            m.u.submit.run_after_ms = 1ull << 63;
            CHECK_MSG(!encodes_ok(&m), "%s: after 2^63 refused", name);
        }
        if (m.type == JC_MSG_COMMAND && m.u.cmd.kind == JC_CMD_CONFIG) {
            m.u.cmd.config_version = JC_MAX_UINT + 1;
            CHECK_MSG(!encodes_ok(&m), "%s: cfgv 2^53 refused", name);
        }
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    for (int i = 0; i < sample_count(); i++)
        roundtrip_one(i);
    test_canonical();
    test_names();
    test_util();
    test_uint_limit();
    return check_done("test_proto_roundtrip");
}
