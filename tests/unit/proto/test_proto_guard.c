/*
 * test_proto_guard.c - hostile raw msgpack: every format byte (valid, cut
 * short, with trailing bytes), the reserved byte 0xc1, deep nesting (100000
 * levels, without recursion), container headers that announce billions of
 * elements in five bytes, element-count limits, and a deterministic mutation
 * loop over valid envelopes and signed payloads. jc_guard must agree with
 * msgpack-c: whatever it accepts, msgpack_unpack parses.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "samples.h"

/* unpacks reports whether msgpack-c parses p[0..n) completely. */
static int unpacks(const uint8_t *p, size_t n)
{
    msgpack_zone z;
    msgpack_object o;
    size_t off = 0;
    int ok;

    msgpack_zone_init(&z, 1024);
    ok = msgpack_unpack((const char *)p, n, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS && off == n;
    msgpack_zone_destroy(&z);
    return ok;
}

/* guard runs jc_guard with the protocol's limits and checks the error text. */
static jc_err_t guard(const uint8_t *p, size_t n)
{
    char errstr[256] = "";
    jc_err_t err = jc_guard(p, n, JC_MAX_DEPTH, JC_MAX_ELEMENTS, errstr, sizeof(errstr));

    if (err)
        CHECK_MSG(errstr[0] != '\0', "guard error %d without text", (int)err);
    return err;
}

/* decode_signed seals sig for worker-1 and parses, verifies and decodes it. */
static jc_err_t decode_signed(const uint8_t *sig, size_t n)
{
    msgpack_sbuffer env;
    jc_slice p = jc_slice_str("worker-1"), kid = jc_slice_str(SAMPLE_KEY_ID);
    jc_envelope e;
    jc_msg m;
    char errstr[256] = "";
    jc_err_t err;

    msgpack_sbuffer_init(&env);
    err = jc_envelope_seal(&p, &kid, sample_key, sig, n, &env);
    if (!err)
        err = jc_envelope_parse((const uint8_t *)env.data, env.size, 0, &e, errstr, sizeof(errstr));
    if (!err)
        err = jc_envelope_verify(&e, sample_key);
    if (!err)
        err = jc_msg_decode(&e, &m, errstr, sizeof(errstr));
    if (!err)
        jc_msg_release(&m);
    msgpack_sbuffer_destroy(&env);
    return err;
}

/* One valid encoding of every msgpack format. */
static const struct {
    const char *name;
    const char *bytes;
    size_t n;
} formats[] = {
    {"positive fixint", "\x05", 1},
    {"negative fixint", "\xff", 1},
    {"nil", "\xc0", 1},
    {"false", "\xc2", 1},
    {"true", "\xc3", 1},
    {"fixmap", "\x81\xa1\x6b\x01", 4},
    {"empty fixmap", "\x80", 1},
    {"fixarray", "\x92\x01\x02", 3},
    {"empty fixarray", "\x90", 1},
    {"fixstr", "\xa3\x61\x62\x63", 4},
    {"empty fixstr", "\xa0", 1},
    {"str8", "\xd9\x02\x61\x62", 4},
    {"str16", "\xda\x00\x02\x61\x62", 5},
    {"str32", "\xdb\x00\x00\x00\x02\x61\x62", 7},
    {"bin8", "\xc4\x02\x00\x01", 4},
    {"bin16", "\xc5\x00\x01\x00", 4},
    {"bin32", "\xc6\x00\x00\x00\x01\x00", 6},
    {"ext8", "\xc7\x02\x05\x00\x01", 5},
    {"ext16", "\xc8\x00\x01\x05\x00", 5},
    {"ext32", "\xc9\x00\x00\x00\x01\x05\x00", 7},
    {"float32", "\xca\x3f\xc0\x00\x00", 5},
    {"float64", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9},
    {"uint8", "\xcc\xff", 2},
    {"uint16", "\xcd\xff\xff", 3},
    {"uint32", "\xce\xff\xff\xff\xff", 5},
    {"uint64", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9},
    {"int8", "\xd0\x80", 2},
    {"int16", "\xd1\x80\x00", 3},
    {"int32", "\xd2\x80\x00\x00\x00", 5},
    {"int64", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9},
    {"fixext1", "\xd4\x05\x00", 3},
    {"fixext2", "\xd5\x05\x00\x01", 4},
    {"fixext4", "\xd6\x05\x00\x01\x02\x03", 6},
    {"fixext8", "\xd7\x05\x00\x01\x02\x03\x04\x05\x06\x07", 10},
    {"fixext16", "\xd8\x05\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 18},
    {"array16", "\xdc\x00\x02\xc0\xc0", 5},
    {"array32", "\xdd\x00\x00\x00\x02\xc0\xc0", 7},
    {"map16", "\xde\x00\x01\xc0\xc0", 5},
    {"map32", "\xdf\x00\x00\x00\x01\xc0\xc0", 7},
    {"empty map32", "\xdf\x00\x00\x00\x00", 5},
};

/* test_formats walks every format: valid, every strict prefix, and with a
 * trailing byte; and inside an array so the walk continues after it. */
static void test_formats(void)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        const uint8_t *b = (const uint8_t *)formats[i].bytes;
        size_t n = formats[i].n;
        uint8_t buf[64];

        CHECK_MSG(guard(b, n) == JC_OK, "%s", formats[i].name);
        CHECK_MSG(unpacks(b, n), "%s: msgpack-c disagrees", formats[i].name);
        for (size_t k = 0; k < n; k++) {
            uint8_t *cut = malloc(k ? k : 1); /* exact size, for ASan */

            memcpy(cut, b, k);
            CHECK_MSG(guard(cut, k) == JC_ERR_MALFORMED, "%s cut at %zu", formats[i].name, k);
            free(cut);
        }
        memcpy(buf, b, n);
        buf[n] = 0xc0;
        CHECK_MSG(guard(buf, n + 1) == JC_ERR_MALFORMED, "%s + trailing", formats[i].name);
        buf[0] = 0x93; /* [x, x, nil] */
        memcpy(buf + 1, b, n);
        memcpy(buf + 1 + n, b, n);
        buf[1 + 2 * n] = 0xc0;
        CHECK_MSG(guard(buf, 2 + 2 * n) == JC_OK, "%s in an array", formats[i].name);
        CHECK(unpacks(buf, 2 + 2 * n));
    }
    CHECK_EQ_INT(guard((const uint8_t *)"\xc1", 1), JC_ERR_MALFORMED);
    CHECK_EQ_INT(guard((const uint8_t *)"\x92\x01\xc1", 3), JC_ERR_MALFORMED);
    CHECK_EQ_INT(guard((const uint8_t *)"\x81\xc1\x01", 3), JC_ERR_MALFORMED);
    CHECK_EQ_INT(guard(NULL, 0), JC_ERR_MALFORMED);
    CHECK_EQ_INT(guard((const uint8_t *)"\x01\x02", 2), JC_ERR_MALFORMED); /* two objects */
    CHECK_EQ_INT(jc_guard((const uint8_t *)"\x01", 1, JC_GUARD_MAX_DEPTH + 1, 10, NULL, 0),
                 JC_ERR_INVALID_ARG);
    CHECK_EQ_INT(jc_guard((const uint8_t *)"\x01", 1, -1, 10, NULL, 0), JC_ERR_INVALID_ARG);
    CHECK_EQ_INT(jc_guard((const uint8_t *)"\x01", 1, 0, 10, NULL, 0), JC_OK);
    CHECK_EQ_INT(jc_guard((const uint8_t *)"\x90", 1, 0, 10, NULL, 0), JC_ERR_LIMIT);
}

/* test_nesting checks depth limits, up to 100000 levels. */
static void test_nesting(void)
{
    size_t deep = 100000;
    uint8_t *b = malloc(deep + 1);
    char errstr[128];
    jc_envelope e;

    memset(b, 0x91, deep); /* [[[[...nil...]]]] */
    b[deep] = 0xc0;
    CHECK_EQ_INT(guard(b, deep + 1), JC_ERR_LIMIT);
    CHECK_EQ_INT(jc_envelope_parse(b, deep + 1, 0, &e, errstr, sizeof(errstr)), JC_ERR_LIMIT);
    CHECK_EQ_INT(decode_signed(b, deep + 1), JC_ERR_LIMIT);
    memset(b, 0x81, deep); /* {nil: {nil: ...}} is not valid (odd), but deep first */
    CHECK_EQ_INT(guard(b, deep + 1), JC_ERR_LIMIT);
    /* Exactly JC_MAX_DEPTH levels pass the guard; one more does not. */
    memset(b, 0x91, JC_MAX_DEPTH);
    b[JC_MAX_DEPTH] = 0xc0;
    CHECK_EQ_INT(guard(b, JC_MAX_DEPTH + 1), JC_OK);
    b[JC_MAX_DEPTH] = 0x91;
    b[JC_MAX_DEPTH + 1] = 0xc0;
    CHECK_EQ_INT(guard(b, JC_MAX_DEPTH + 2), JC_ERR_LIMIT);
    /* Depth is nesting, not position: many siblings at depth 1 are fine. */
    b[0] = 0xdc;
    b[1] = 0x03;
    b[2] = 0xe8; /* array16 of 1000 empty arrays */
    memset(b + 3, 0x90, 1000);
    CHECK_EQ_INT(guard(b, 1003), JC_OK);
    CHECK_EQ_INT(jc_guard(b, 1003, 1, 1000, NULL, 0), JC_ERR_LIMIT); /* 1001 objects */
    CHECK_EQ_INT(jc_guard(b, 1003, 1, 1001, NULL, 0), JC_ERR_LIMIT); /* depth 2 */
    CHECK_EQ_INT(jc_guard(b, 1003, 2, 1001, NULL, 0), JC_OK);
    free(b);
}

/* test_huge_headers: five-byte inputs announcing billions of elements are
 * refused by the guard before msgpack-c could allocate for them. */
static void test_huge_headers(void)
{
    static const struct {
        const char *bytes;
        size_t n;
    } cases[] = {
        {"\xdd\xff\xff\xff\xff", 5},         /* array32, 4G elements */
        {"\xdf\xff\xff\xff\xff", 5},         /* map32, 4G entries */
        {"\xdb\xff\xff\xff\xff", 5},         /* str32, 4 GiB */
        {"\xc6\xff\xff\xff\xff", 5},         /* bin32 */
        {"\xc9\xff\xff\xff\xff\x01", 6},     /* ext32 */
        {"\xdc\xff\xff", 3},                 /* array16 */
        {"\xde\xff\xff", 3},                 /* map16 */
        {"\x91\xdd\xff\xff\xff\xff", 6},     /* nested */
        {"\xdd\x00\x00\x00\x02\xc0", 6},     /* one short */
        {"\xdf\x00\x00\x00\x01\xc0", 6},     /* map: 2 objects per entry */
        {"\x92\xdd\x00\x00\x00\x01\xc0", 7}, /* parent still owed one */
    };
    char errstr[128];
    jc_envelope e;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *b = (const uint8_t *)cases[i].bytes;

        CHECK_MSG(guard(b, cases[i].n) == JC_ERR_MALFORMED, "case %zu", i);
        CHECK_EQ_INT(jc_envelope_parse(b, cases[i].n, 0, &e, errstr, sizeof(errstr)),
                     JC_ERR_MALFORMED);
        CHECK_EQ_INT(decode_signed(b, cases[i].n), JC_ERR_MALFORMED);
    }
    /* Enough bytes, but more objects than the limit. */
    {
        size_t n = 3 + JC_MAX_ELEMENTS + 1;
        uint8_t *b = malloc(n);

        b[0] = 0xdc;
        b[1] = (uint8_t)((JC_MAX_ELEMENTS + 1) >> 8);
        b[2] = (uint8_t)((JC_MAX_ELEMENTS + 1) & 0xff);
        memset(b + 3, 0xc0, JC_MAX_ELEMENTS + 1);
        CHECK_EQ_INT(guard(b, n), JC_ERR_LIMIT);
        CHECK_EQ_INT(decode_signed(b, n), JC_ERR_LIMIT);
        free(b);
    }
    /* Trailing garbage after a valid signed payload. */
    {
        msgpack_sbuffer sig;
        jc_msg m;
        char err[128];

        msgpack_sbuffer_init(&sig);
        sample_get(0, &m);
        CHECK_EQ_INT(jc_msg_encode_signed(&m, &sig, err, sizeof(err)), JC_OK);
        CHECK_EQ_INT(decode_signed((const uint8_t *)sig.data, sig.size), JC_OK);
        msgpack_sbuffer_write(&sig, "\x00", 1);
        CHECK_EQ_INT(decode_signed((const uint8_t *)sig.data, sig.size), JC_ERR_MALFORMED);
        msgpack_sbuffer_destroy(&sig);
    }
}

/* rng is a fixed-seed xorshift64*, so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(uint32_t bound)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % bound;
}

/* mutate applies 1..4 random edits to buf (capacity cap) and returns its
 * new length. */
static size_t mutate(uint8_t *buf, size_t n, size_t cap)
{
    static const uint8_t interesting[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
                                          0xbf, 0xc0, 0xc1, 0xc4, 0xc6, 0xd9, 0xdb,
                                          0xdc, 0xdd, 0xde, 0xdf, 0xff};
    int edits = 1 + (int)rng(4);

    for (int k = 0; k < edits; k++) {
        uint32_t op = rng(5);
        size_t at = n ? rng((uint32_t)n) : 0;

        if (op == 0 && n > 0) {
            buf[at] ^= (uint8_t)(1u << rng(8));
        } else if (op == 1 && n > 0) {
            buf[at] = interesting[rng(sizeof(interesting))];
        } else if (op == 2 && n < cap) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = (uint8_t)rng(256);
            n++;
        } else if (op == 3 && n > 0) {
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
        } else if (op == 4 && n > 0) {
            buf[at] = (uint8_t)rng(256);
        }
    }
    return n;
}

/* test_mutations feeds mutated envelopes (mostly failing the MAC, decoded
 * anyway) and mutated signed payloads, re-sealed so the MAC holds. Whatever
 * decodes must re-encode; whatever the guard accepts, msgpack-c parses. */
static void test_mutations(void)
{
    enum { ROUNDS = 5000, CAP = 4096 };
    uint8_t *buf = malloc(CAP);
    int decoded = 0;

    for (int r = 0; r < ROUNDS; r++) {
        int s = (int)rng((uint32_t)sample_count());
        msgpack_sbuffer sig, env, again;
        jc_envelope e;
        jc_msg m, out;
        char errstr[256];
        size_t n;
        int resealed = r % 2;

        msgpack_sbuffer_init(&sig);
        msgpack_sbuffer_init(&env);
        msgpack_sbuffer_init(&again);
        sample_get(s, &m);
        CHECK_EQ_INT(jc_msg_encode_signed(&m, &sig, errstr, sizeof(errstr)), JC_OK);
        CHECK_EQ_INT(seal_sample(&m, &env), JC_OK);
        if (resealed) {
            jc_slice kid = jc_slice_str(SAMPLE_KEY_ID);

            memcpy(buf, sig.data, sig.size);
            n = mutate(buf, sig.size, CAP);
            if (guard(buf, n) == JC_OK)
                CHECK_MSG(unpacks(buf, n), "round %d: guard accepts what msgpack-c refuses", r);
            msgpack_sbuffer_clear(&env);
            if (n == 0 || jc_envelope_seal(&m.principal, &kid, sample_key, buf, n, &env) != JC_OK)
                goto next;
            memcpy(buf, env.data, env.size);
            n = env.size;
        } else {
            memcpy(buf, env.data, env.size);
            n = mutate(buf, env.size, CAP);
        }
        if (jc_envelope_parse(buf, n, 0, &e, errstr, sizeof(errstr)) != JC_OK)
            goto next;
        (void)jc_envelope_verify(&e, sample_key);
        if (jc_msg_decode(&e, &out, errstr, sizeof(errstr)) != JC_OK)
            goto next;
        decoded++;
        CHECK_MSG(jc_msg_encode_signed(&out, &again, errstr, sizeof(errstr)) == JC_OK,
                  "round %d: decoded but cannot re-encode: %s", r, errstr);
        jc_msg_release(&out);
    next:
        msgpack_sbuffer_destroy(&sig);
        msgpack_sbuffer_destroy(&env);
        msgpack_sbuffer_destroy(&again);
    }
    CHECK(decoded > 0); /* the loop does reach the decoder's success path */
    free(buf);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_formats();
    test_nesting();
    test_huge_headers();
    test_mutations();
    return check_done("test_proto_guard");
}
