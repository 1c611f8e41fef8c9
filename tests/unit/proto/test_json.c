/*
 * test_json.c - the strict JSON reader (proto/src/json.c, jansson with
 * jobcoord's flags): valid documents and lookups, unescaping, the int64
 * reading of numbers, and every rejection (RFC 8259 plus our bounds:
 * duplicate members, U+0000, depth, a scalar root). Nothing may crash or
 * read past its input: each hostile document is also parsed from an exactly
 * sized heap copy, so ASan sees any overread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jcproto/json.h"

/* parse_n parses n bytes from an exactly sized heap copy (no NUL after it). */
static json_t *parse_n(const char *src, size_t n, char *err, size_t err_size)
{
    char *copy = malloc(n ? n : 1);
    json_t *doc;

    memcpy(copy, src, n);
    doc = jc_json_parse(copy, n, err, err_size);
    free(copy); /* the document keeps nothing of its input */
    return doc;
}

/* ok parses src (must succeed); the caller json_decrefs the result. */
static json_t *ok(const char *src)
{
    char err[160] = "";
    json_t *doc = parse_n(src, strlen(src), err, sizeof err);
    CHECK_MSG(doc != NULL, "'%s' refused: %s", src, err);
    return doc;
}

/* bad_n checks that n bytes of src are refused with a reason. */
static void bad_n(const char *src, size_t n, const char *why)
{
    char err[160] = "";
    json_t *doc = parse_n(src, n, err, sizeof err);
    CHECK_MSG(doc == NULL, "accepted (%s): '%.*s'", why, (int)n, src);
    CHECK_MSG(doc != NULL || err[0] != '\0', "refused without a reason (%s)", why);
    json_decref(doc);
}

static void bad(const char *src, const char *why)
{
    bad_n(src, strlen(src), why);
}

static void test_valid(void)
{
    json_t *doc, *a;
    char out[128];
    int64_t v;

    /* every kind of value, with whitespace everywhere it may be */
    doc =
        ok(" \t\r\n{ \"a\" : [1, -2.5e+3, 0, -0, 1E2, true, false, null, \"s\", {}, []],"
           "\"b\":{\"c\":{\"d\":\"deep\"}}, \"n\": 1300819380 } \n");
    if (doc) {
        CHECK(json_is_object(doc) && json_object_size(doc) == 3);
        a = json_object_get(doc, "a");
        CHECK(json_is_array(a) && json_array_size(a) == 11);
        CHECK(json_is_true(json_array_get(a, 5)));
        CHECK(json_is_false(json_array_get(a, 6)));
        CHECK(json_is_null(json_array_get(a, 7)));
        /* a number with an exponent or a fraction is truncated */
        CHECK(jc_json_int64(json_array_get(a, 1), &v) == 0 && v == -2500);
        CHECK(jc_json_int64(json_array_get(a, 0), &v) == 0 && v == 1);
        CHECK(jc_json_int64(json_array_get(a, 4), &v) == 0 && v == 100);
        CHECK(jc_json_int64(json_array_get(a, 8), &v) == -1); /* a string */
        CHECK(jc_json_int64(json_object_get(doc, "n"), &v) == 0 && v == 1300819380);
        CHECK_EQ_INT(jc_json_member_string(json_object_get(json_object_get(doc, "b"), "c"), "d",
                                           out, sizeof out),
                     4);
        CHECK_EQ_STR(out, "deep");
        CHECK(json_object_get(doc, "missing") == NULL);
        CHECK_EQ_INT(jc_json_member_string(a, "a", out, sizeof out), -1);   /* not an object */
        CHECK_EQ_INT(jc_json_member_string(doc, "a", out, sizeof out), -1); /* an array */
        CHECK_EQ_INT(jc_json_member_string(doc, "missing", out, sizeof out), -1);
        CHECK_EQ_INT(jc_json_string(NULL, out, sizeof out), -1);
        CHECK_EQ_INT(jc_json_int64(NULL, &v), -1);
    }
    json_decref(doc);

    /* empty containers; a scalar root is refused (tokens and answers are
     * objects) */
    doc = ok("[]");
    CHECK(json_is_array(doc) && json_array_size(doc) == 0);
    json_decref(doc);
    doc = ok("{}");
    CHECK(json_is_object(doc) && json_object_size(doc) == 0);
    json_decref(doc);
    bad("\"x\"", "a string as the root");
    bad("-0.0e-0", "a number as the root");

    /* NumericDate with a fraction is truncated; int64 bounds */
    doc = ok("[1.9, -1.9, 9223372036854775807, -9223372036854775808, 1e300]");
    if (doc) {
        CHECK(jc_json_int64(json_array_get(doc, 0), &v) == 0 && v == 1);
        CHECK(jc_json_int64(json_array_get(doc, 1), &v) == 0 && v == -1);
        CHECK(jc_json_int64(json_array_get(doc, 2), &v) == 0 && v == INT64_MAX);
        CHECK(jc_json_int64(json_array_get(doc, 3), &v) == 0 && v == INT64_MIN);
        CHECK_EQ_INT(jc_json_int64(json_array_get(doc, 4), &v), -1); /* refused, not clamped */
        CHECK_EQ_INT(jc_json_int64(doc, &v), -1);                    /* an array */
    }
    json_decref(doc);
    /* integers beyond int64 are refused with the document */
    bad("[9223372036854775808]", "integer overflow");
    bad("[-9223372036854775809]", "negative integer overflow");
    bad("[123456789012345678901234567890123]", "a very long integer");

    /* literal UTF-8 of 2, 3 and 4 bytes, and U+007F, pass through */
    doc = ok("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"]");
    if (doc) {
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 0), out, sizeof out), 10);
        CHECK_EQ_STR(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f");
    }
    json_decref(doc);
}

static void test_escapes(void)
{
    json_t *doc;
    char out[64];

    doc =
        ok("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20AC\", "
           "\"\\ud83d\\ude00\", \"\\uDBFF\\uDFFF\", \"plain\"]");
    if (doc) {
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 0), out, sizeof out), 8);
        CHECK_EQ_STR(out, "\"\\/\b\f\n\r\t");
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 1), out, sizeof out), 6);
        CHECK_EQ_STR(out, "A\xc3\xa9\xe2\x82\xac");
        /* surrogate pairs become one 4-byte character */
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 2), out, sizeof out), 4);
        CHECK_EQ_STR(out, "\xf0\x9f\x98\x80");
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 3), out, sizeof out), 4);
        CHECK_EQ_STR(out, "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
        /* output bounds: the NUL always fits, never a partial value */
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 4), out, 6), 5);
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 4), out, 5), -1);
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 4), out, 0), -1);
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 2), out, 5), 4);
        CHECK_EQ_INT(jc_json_string(json_array_get(doc, 2), out, 4), -1);
        CHECK_EQ_INT(jc_json_string(doc, out, sizeof out), -1); /* the array */
    }
    json_decref(doc);

    /* \u0000 would cut a C string: refused anywhere, names included */
    bad("[\"a\\u0000b\"]", "U+0000 in a string");
    bad("{\"k\\u0000\":1}", "U+0000 in a name");
    /* member names are compared unescaped */
    doc = ok("{\"\\u0061lg\":\"x\"}");
    CHECK_EQ_INT(jc_json_member_string(doc, "alg", out, sizeof out), 1);
    json_decref(doc);
}

static void test_duplicates(void)
{
    json_t *doc;

    /* a member twice is refused (two readers could see different values) */
    bad("{\"a\":1,\"b\":{\"a\":2},\"a\":3}", "a duplicate member");
    bad("{\"sub\":\"x\",\"s\\u0075b\":\"y\"}", "the same name spelled with an escape");
    bad("{\"o\":{\"x\":1,\"x\":2}}", "a duplicate in a nested object");
    /* a nested "a" is not a duplicate */
    doc = ok("{\"a\":1,\"b\":{\"a\":2}}");
    CHECK(json_object_get(doc, "b") != NULL);
    json_decref(doc);
}

static void test_limits(void)
{
    char deep[128];
    json_t *doc;

    /* depth: 16 nested containers are allowed, 17 are not */
    memset(deep, '[', 16);
    memset(deep + 16, ']', 16);
    deep[32] = '\0';
    doc = ok(deep);
    json_decref(doc);
    memset(deep, '[', 17);
    memset(deep + 17, ']', 17);
    deep[34] = '\0';
    bad(deep, "depth 17");
    memset(deep, 0, sizeof deep);
    for (int i = 0; i < 17; i++)
        strcat(deep, "{\"a\":");
    strcat(deep, "1");
    for (int i = 0; i < 17; i++)
        strcat(deep, "}");
    bad(deep, "17 nested objects");
}

static void test_rejections(void)
{
    /* structure */
    bad("", "empty");
    bad("   ", "only whitespace");
    bad("{} x", "trailing garbage");
    bad("{}}", "trailing brace");
    bad("[1] [2]", "two documents");
    bad("1 2", "two numbers");
    bad("{\"a\":1,}", "trailing comma in object");
    bad("[1,]", "trailing comma in array");
    bad("[,1]", "leading comma");
    bad("{\"a\" 1}", "missing colon");
    bad("{a:1}", "unquoted name");
    bad("{1:1}", "number as name");
    bad("{'a':1}", "single quotes");
    bad("[1 2]", "missing comma");
    bad("[", "unterminated array");
    bad("{\"a\":", "unterminated object");
    bad("{\"a\":1", "unterminated object after value");
    bad("\"abc", "unterminated string");
    bad("tru", "truncated literal");
    bad("True", "capitalised literal");
    bad("nul", "truncated null");
    bad("[nulll]", "literal with garbage");
    bad("\xef\xbb\xbf{}", "byte order mark");
    bad("\f{}", "form feed is not JSON whitespace");
    /* numbers */
    bad("01", "leading zero");
    bad("[00]", "two zeros");
    bad("-01", "negative leading zero");
    bad("+1", "plus sign");
    bad("-", "lone minus");
    bad("1.", "fraction without digits");
    bad(".5", "no integer part");
    bad("1e", "exponent without digits");
    bad("1e+", "signed exponent without digits");
    bad("0x10", "hexadecimal");
    bad("NaN", "NaN");
    bad("-Infinity", "infinity");
    /* escapes */
    bad("\"\\x41\"", "\\x escape");
    bad("\"\\a\"", "\\a escape");
    bad("\"\\'\"", "\\' escape");
    bad("\"\\u12\"", "short \\u");
    bad("\"\\u12G4\"", "non-hex \\u");
    bad("\"\\", "escape at the end");
    bad("\"\\u00", "\\u at the end");
    bad_n("\"\\\0\"", 4, "backslash NUL");
    /* surrogates */
    bad("\"\\ud83d\"", "lone high surrogate");
    bad("\"\\ud83dx\"", "high surrogate then a character");
    bad("\"\\ud83d\\n\"", "high surrogate then another escape");
    bad("\"\\ud83d\\ud83d\"", "two high surrogates");
    bad("\"\\ude00\"", "lone low surrogate");
    bad("\"\\ude00\\ud83d\"", "reversed pair");
    bad("\"\\ud83d\\u0041\"", "high surrogate then a BMP escape");
    /* control characters in strings, raw */
    bad("\"a\nb\"", "raw newline");
    bad("\"a\tb\"", "raw tab");
    bad("\"\x01\"", "raw U+0001");
    bad("\"\x1f\"", "raw U+001F");
    bad_n("\"a\0b\"", 5, "raw NUL in a string");
    bad_n("{}\0", 3, "NUL after the document");
    /* invalid UTF-8 */
    bad("\"\x80\"", "lone continuation byte");
    bad("\"\xbf\"", "lone continuation byte bf");
    bad("\"\xc3\"", "truncated 2-byte sequence");
    bad("\"\xc3x\"", "2-byte lead then ASCII");
    bad("\"\xc0\xaf\"", "overlong '/' (c0)");
    bad("\"\xc1\xbf\"", "overlong (c1)");
    bad("\"\xe0\x80\xaf\"", "overlong 3-byte");
    bad("\"\xe0\x9f\xbf\"", "overlong 3-byte, top");
    bad("\"\xed\xa0\x80\"", "UTF-8 encoded surrogate");
    bad("\"\xed\xbf\xbf\"", "UTF-8 encoded low surrogate");
    bad("\"\xe2\x82\"", "truncated 3-byte");
    bad("\"\xf0\x80\x80\xaf\"", "overlong 4-byte");
    bad("\"\xf0\x8f\xbf\xbf\"", "overlong 4-byte, top");
    bad("\"\xf4\x90\x80\x80\"", "beyond U+10FFFF");
    bad("\"\xf5\x80\x80\x80\"", "f5 lead");
    bad("\"\xf8\x88\x80\x80\x80\"", "5-byte form");
    bad("\"\xff\"", "ff byte");
    bad("\"\xf0\x9f\x98\"", "truncated 4-byte");
    bad_n("\"\xf0\x9f", 3, "4-byte lead at the end of input");
    bad("{\"\xc3\":1}", "invalid UTF-8 in a name");
    bad("\xc3\xa9", "non-ASCII outside a string");
}

/* test_truncations parses every prefix of a valid document: each must be
 * refused (only the whole is valid), without reading past the prefix. */
static void test_truncations(void)
{
    const char *full = "{\"a\":[1,-2.5e3,\"\\ud83d\\ude00\\n\",true,null],\"b\":{\"c\":false}}";
    size_t n = strlen(full);
    char err[160];
    json_t *doc;

    for (size_t i = 0; i < n; i++) {
        doc = parse_n(full, i, err, sizeof err);
        CHECK_MSG(doc == NULL, "prefix of %zu bytes accepted", i);
        json_decref(doc);
    }
    doc = parse_n(full, n, err, sizeof err);
    CHECK(doc != NULL);
    json_decref(doc);
}

/* test_random_bytes throws pseudo-random documents at the parser: it may
 * accept or refuse, but never crash, read past its input or leak. */
static void test_random_bytes(void)
{
    static const char alphabet[] = "{}[]\":,\\u0123456789abcdefABCDEF-+.eE tfnrl\x80\xc3\xed\xf0";
    uint32_t seed = 12345;
    char buf[48], err[160], out[64];

    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 47) + 1;
        json_t *doc;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        err[0] = '\0';
        doc = parse_n(buf, n, err, sizeof err);
        CHECK(doc || err[0]); /* a refusal always says why */
        if (doc) {
            (void)jc_json_member_string(doc, "a", out, sizeof out);
            (void)jc_json_string(json_array_get(doc, 0), out, sizeof out);
        }
        json_decref(doc);
    }
}

int main(void)
{
    test_valid();
    test_escapes();
    test_duplicates();
    test_limits();
    test_rejections();
    test_truncations();
    test_random_bytes();
    return check_done("test_json");
}
