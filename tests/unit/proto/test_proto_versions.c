/*
 * test_proto_versions.c - protocol versions 1 and 2 in the codec
 * (PROTOCOL.md section 14): the version travels from the envelope into the
 * decoded message and from the message into the envelope; a version 1
 * job.update may not carry "reason", a version 2 one may (with state
 * canceling or canceled only); any other version is bad_version, checked
 * before anything else.
 *
 * Signed payloads are packed by hand here, so that the decoder meets what
 * the encoder refuses to write (a "reason" in version 1, a reason on a
 * failed job), each sealed with the right key so that only the rule under
 * test can reject it.
 */
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "samples.h"

static const uint8_t job_id[JC_ID_LEN] = {0x6f, 0x1a, 0x3c, 0x2e, 0x8b, 0x4d, 0x4e, 0x7f,
                                          0x9a, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd};

/* pack_update packs the signed payload of a job.update from c1 by hand:
 * state, att 2, err, and reason when not NULL (reason_len bytes). */
static void pack_update(msgpack_sbuffer *out, const char *state, const char *err,
                        const char *reason, size_t reason_len)
{
    msgpack_packer pk;
    uint8_t id[JC_ID_LEN] = {1, 2, 3};

    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "job.update", 10);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_bin_with_body(&pk, id, sizeof id);
    msgpack_pack_str_with_body(&pk, "ts", 2);
    msgpack_pack_uint64(&pk, 1700000000000ull);
    msgpack_pack_str_with_body(&pk, "p", 1);
    msgpack_pack_str_with_body(&pk, "c1", 2);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_map(&pk, 3u + (err != NULL) + (reason != NULL));
    msgpack_pack_str_with_body(&pk, "job", 3);
    msgpack_pack_bin_with_body(&pk, job_id, JC_ID_LEN);
    msgpack_pack_str_with_body(&pk, "state", 5);
    msgpack_pack_str_with_body(&pk, state, strlen(state));
    msgpack_pack_str_with_body(&pk, "att", 3);
    msgpack_pack_uint64(&pk, 2);
    if (err) {
        msgpack_pack_str_with_body(&pk, "err", 3);
        msgpack_pack_str_with_body(&pk, err, strlen(err));
    }
    if (reason) {
        msgpack_pack_str_with_body(&pk, "reason", 6);
        msgpack_pack_str_with_body(&pk, reason, reason_len);
    }
}

/* put_envelope packs an envelope with any integer "v" by hand around s,
 * with the MAC of s under sample_key. */
static void put_envelope(msgpack_sbuffer *out, uint64_t v, const msgpack_sbuffer *s)
{
    msgpack_packer pk;
    uint8_t mac[JC_MAC_LEN];

    crypto_auth_hmacsha256(mac, (const uint8_t *)s->data, s->size, sample_key);
    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint64(&pk, v);
    msgpack_pack_str_with_body(&pk, "p", 1);
    msgpack_pack_str_with_body(&pk, "c1", 2);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_str_with_body(&pk, SAMPLE_KEY_ID, strlen(SAMPLE_KEY_ID));
    msgpack_pack_str_with_body(&pk, "s", 1);
    msgpack_pack_bin_with_body(&pk, s->data, s->size);
    msgpack_pack_str_with_body(&pk, "m", 1);
    msgpack_pack_bin_with_body(&pk, mac, sizeof mac);
}

/* receive runs a receiver's steps (parse, verify, decode) over env; m is
 * filled on success (the caller releases it). *reason gets the dead-letter
 * reason on failure. */
static jc_err_t receive(const msgpack_sbuffer *env, jc_msg *m, const char **reason)
{
    jc_envelope e;
    char errstr[256] = "";
    jc_err_t err;

    memset(m, 0, sizeof *m);
    *reason = NULL;
    err = jc_envelope_parse((const uint8_t *)env->data, env->size, 0, &e, errstr, sizeof errstr);
    if (!err)
        err = jc_envelope_verify(&e, sample_key);
    if (!err)
        err = jc_msg_decode_reason(&e, m, reason, errstr, sizeof errstr);
    else
        *reason = jc_err_reason(err);
    if (err)
        CHECK_MSG(errstr[0] != '\0' || err == JC_ERR_BAD_SIGNATURE, "error %d without text",
                  (int)err);
    return err;
}

/* test_decode: the decoder reads each envelope by its own version's rules. */
static void test_decode(void)
{
    msgpack_sbuffer s, env;
    const char *reason;
    char long_reason[JC_MAX_TEXT_LEN + 1];
    jc_msg m;

    msgpack_sbuffer_init(&s);
    msgpack_sbuffer_init(&env);

    /* version 2: reason and err side by side */
    pack_update(&s, "canceled", "ffmpeg: killed", "superseded", 10);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_OK);
    CHECK_EQ_INT(m.version, 2);
    CHECK(jc_slice_eq(m.u.update.reason, "superseded"));
    CHECK(jc_slice_eq(m.u.update.error, "ffmpeg: killed"));
    jc_msg_release(&m);

    /* the same payload in a version 1 envelope: "reason" is unknown there */
    put_envelope(&env, 1, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_ERR_SCHEMA);
    CHECK_EQ_STR(reason, "schema");

    /* a version 1 job.update without reason is fine in either version */
    pack_update(&s, "canceled", "superseded", NULL, 0);
    put_envelope(&env, 1, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_OK);
    CHECK_EQ_INT(m.version, 1);
    CHECK_EQ_INT(m.u.update.reason.n, 0);
    jc_msg_release(&m);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_OK);
    CHECK_EQ_INT(m.version, 2);
    jc_msg_release(&m);
    pack_update(&s, "canceling", NULL, "operator: maintenance", 21);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_OK);
    jc_msg_release(&m);

    /* version 2 rules of "reason": only with canceling/canceled, non-empty,
     * at most 4096 bytes of text */
    pack_update(&s, "failed", "boom", "superseded", 10);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_ERR_SCHEMA);
    CHECK_EQ_STR(reason, "schema");
    pack_update(&s, "canceled", NULL, "", 0);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_ERR_SCHEMA);
    memset(long_reason, 'r', sizeof long_reason);
    pack_update(&s, "canceled", NULL, long_reason, sizeof long_reason);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_ERR_TOO_LARGE);
    CHECK_EQ_STR(reason, "too_large");
    pack_update(&s, "canceled", NULL, long_reason, JC_MAX_TEXT_LEN);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_OK);
    jc_msg_release(&m);
    pack_update(&s, "canceled", NULL, "bad\xff", 4);
    put_envelope(&env, 2, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_ERR_SCHEMA);

    /* versions this codec does not implement: bad_version, before the rest */
    pack_update(&s, "canceled", NULL, NULL, 0);
    for (uint64_t v = 0; v < 6; v += (v == 0 ? 3 : 1)) { /* 0, 3, 4, 5 */
        put_envelope(&env, v, &s);
        CHECK_EQ_INT(receive(&env, &m, &reason), JC_ERR_BAD_VERSION);
        CHECK_EQ_STR(reason, "bad_version");
    }
    put_envelope(&env, UINT64_MAX, &s);
    CHECK_EQ_INT(receive(&env, &m, &reason), JC_ERR_BAD_VERSION);

    msgpack_sbuffer_destroy(&s);
    msgpack_sbuffer_destroy(&env);
}

/* test_encode: the encoder writes the message's version, and refuses what
 * that version's receivers reject. */
static void test_encode(void)
{
    msgpack_sbuffer env, again;
    jc_slice kid = jc_slice_str(SAMPLE_KEY_ID);
    const char *reason;
    char errstr[256];
    jc_msg m, dec;

    msgpack_sbuffer_init(&env);
    msgpack_sbuffer_init(&again);
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_UPDATE;
    m.id[0] = 9;
    m.ts_ms = 1700000000000ull;
    m.principal = jc_slice_str("c1");
    memcpy(m.u.update.job, job_id, JC_ID_LEN);
    m.u.update.state = jc_slice_str("canceled");
    m.u.update.attempt = 2;
    m.u.update.error = jc_slice_str("ffmpeg: killed");
    m.u.update.reason = jc_slice_str("superseded");

    /* version 2: sealed as v=2, decoded back whole, re-sealed identically */
    m.version = 2;
    CHECK_EQ_INT(jc_msg_seal(&m, &kid, sample_key, &env, errstr, sizeof errstr), JC_OK);
    CHECK_EQ_INT(receive(&env, &dec, &reason), JC_OK);
    CHECK_EQ_INT(dec.version, 2);
    CHECK(msg_equal(&m, &dec, errstr, sizeof errstr));
    CHECK_EQ_INT(jc_msg_seal(&dec, &kid, sample_key, &again, errstr, sizeof errstr), JC_OK);
    CHECK(again.size == env.size && memcmp(again.data, env.data, env.size) == 0);
    jc_msg_release(&dec);

    /* versions 1 and 0 (= 1): a reason is refused; without it, v=1 */
    for (uint32_t v = 0; v <= 1; v++) {
        m.version = v;
        m.u.update.reason = jc_slice_str("superseded");
        CHECK_EQ_INT(jc_msg_seal(&m, &kid, sample_key, &env, errstr, sizeof errstr),
                     JC_ERR_SCHEMA);
        CHECK(strstr(errstr, "reason") != NULL);
        m.u.update.reason = jc_slice_str(NULL);
        CHECK_EQ_INT(jc_msg_seal(&m, &kid, sample_key, &env, errstr, sizeof errstr), JC_OK);
        CHECK_EQ_INT(receive(&env, &dec, &reason), JC_OK);
        CHECK_EQ_INT(dec.version, 1);
        jc_msg_release(&dec);
    }

    /* version 2: a reason on another state is refused */
    m.version = 2;
    m.u.update.state = jc_slice_str("failed");
    m.u.update.reason = jc_slice_str("superseded");
    CHECK_EQ_INT(jc_msg_seal(&m, &kid, sample_key, &env, errstr, sizeof errstr), JC_ERR_SCHEMA);

    /* a version the codec does not implement */
    m.u.update.state = jc_slice_str("canceled");
    m.version = 3;
    CHECK_EQ_INT(jc_msg_seal(&m, &kid, sample_key, &env, errstr, sizeof errstr),
                 JC_ERR_INVALID_ARG);
    CHECK_EQ_INT(jc_envelope_seal_v(3, &m.principal, &kid, sample_key, (const uint8_t *)"\x80", 1,
                                    &env),
                 JC_ERR_INVALID_ARG);
    CHECK_EQ_INT(jc_envelope_seal_v(0, &m.principal, &kid, sample_key, (const uint8_t *)"\x80", 1,
                                    &env),
                 JC_ERR_INVALID_ARG);

    /* every other type is the same in both versions: each sample sealed as
     * v=2 decodes back to itself, with version 2 */
    for (int i = 0; i < sample_count(); i++) {
        jc_msg s;
        const char *name = sample_get(i, &s);

        s.version = 2;
        CHECK_MSG(seal_sample(&s, &env) == JC_OK, "%s: seal as version 2", name);
        CHECK_MSG(receive(&env, &dec, &reason) == JC_OK, "%s: decode as version 2", name);
        CHECK_MSG(dec.version == 2 && msg_equal(&s, &dec, errstr, sizeof errstr),
                  "%s: version 2 round trip: %s", name, errstr);
        jc_msg_release(&dec);
    }
    msgpack_sbuffer_destroy(&env);
    msgpack_sbuffer_destroy(&again);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_decode();
    test_encode();
    return check_done("test_proto_versions");
}
