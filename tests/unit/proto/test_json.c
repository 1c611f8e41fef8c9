/*
 * test_json.c - the strict JSON reader (proto/src/json.c): valid
 * documents and their tokens, lookups, unescaping, and every rejection
 * (RFC 8259 plus our bounds). Nothing may crash or read past its input:
 * each hostile document is also parsed from an exactly sized heap copy, so
 * ASan sees any overread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jcproto/json.h"

#define MAXTOK 64

static jc_json_tok toks[MAXTOK];

/* parse_n parses n bytes from an exactly sized heap copy (no NUL after it). */
static int parse_n(jc_json *doc, char **copy, const char *src, size_t n, uint32_t max, char *err,
                   size_t err_size)
{
    *copy = malloc(n ? n : 1);
    memcpy(*copy, src, n);
    return jc_json_parse(doc, *copy, n, toks, max, err, err_size);
}

/* ok parses src (must succeed); the copy is kept in *copy for lookups. */
static int ok(jc_json *doc, char **copy, const char *src)
{
    char err[128] = "";
    int rc = parse_n(doc, copy, src, strlen(src), MAXTOK, err, sizeof err);
    CHECK_MSG(rc == 0, "'%s' refused: %s", src, err);
    return rc;
}

/* bad_n checks that n bytes of src are refused with a reason. */
static void bad_n(const char *src, size_t n, uint32_t max, const char *why)
{
    jc_json doc;
    char err[128] = "", *copy;
    int rc = parse_n(&doc, &copy, src, n, max, err, sizeof err);
    CHECK_MSG(rc == -1, "accepted (%s): '%.*s'", why, (int)n, src);
    CHECK_MSG(rc != -1 || err[0] != '\0', "refused without a reason (%s)", why);
    CHECK(doc.ntoks == 0);
    free(copy);
}

static void bad(const char *src, const char *why) { bad_n(src, strlen(src), MAXTOK, why); }

static void test_valid(void)
{
    jc_json doc;
    char *c, out[128];
    int64_t v;
    int i;

    /* every kind of value, with whitespace everywhere it may be */
    if (ok(&doc, &c, " \t\r\n{ \"a\" : [1, -2.5e+3, 0, -0, 1E2, true, false, null, \"s\", {}, []],"
                     "\"b\":{\"c\":{\"d\":\"deep\"}}, \"n\": 1300819380 } \n") == 0) {
        CHECK_EQ_INT(doc.toks[0].type, JC_JSON_OBJECT);
        CHECK_EQ_INT(doc.toks[0].count, 3);
        CHECK_EQ_INT(doc.toks[0].next, doc.ntoks);
        i = jc_json_find(&doc, 0, "a");
        CHECK(i > 0 && doc.toks[i].type == JC_JSON_ARRAY && doc.toks[i].count == 11);
        CHECK_EQ_INT(doc.toks[i + 6].type, JC_JSON_TRUE);
        CHECK_EQ_INT(doc.toks[i + 7].type, JC_JSON_FALSE);
        CHECK_EQ_INT(doc.toks[i + 8].type, JC_JSON_NULL);
        CHECK_EQ_INT(doc.toks[i + 2].type, JC_JSON_NUMBER);
        CHECK_EQ_INT(doc.toks[i + 2].len, 7); /* -2.5e+3 */
        CHECK(jc_json_int64(&doc, i + 2, &v) == -1); /* exponent: not an integer */
        CHECK(jc_json_int64(&doc, i + 1, &v) == 0 && v == 1);
        /* b's subtree is skipped whole: "n" after it is found */
        i = jc_json_find(&doc, 0, "n");
        CHECK(jc_json_int64(&doc, i, &v) == 0 && v == 1300819380);
        i = jc_json_find(&doc, 0, "b");
        i = jc_json_find(&doc, (uint32_t)i, "c");
        CHECK_EQ_INT(jc_json_member_string(&doc, (uint32_t)i, "d", out, sizeof out), 4);
        CHECK_EQ_STR(out, "deep");
        CHECK_EQ_INT(jc_json_find(&doc, 0, "missing"), -1);
        CHECK_EQ_INT(jc_json_find(&doc, 1, "a"), -1); /* not an object */
        CHECK_EQ_INT(jc_json_find(&doc, 9999, "a"), -1);
        CHECK_EQ_INT(jc_json_member_string(&doc, 0, "a", out, sizeof out), -1); /* an array */
        CHECK_EQ_INT(jc_json_string(&doc, -1, out, sizeof out), -1);
        CHECK_EQ_INT(jc_json_int64(&doc, -2, &v), -1);
    }
    free(c);

    /* scalars as the root, empty containers */
    if (ok(&doc, &c, "\"x\"") == 0)
        CHECK(doc.ntoks == 1 && doc.toks[0].type == JC_JSON_STRING);
    free(c);
    if (ok(&doc, &c, "-0.0e-0") == 0)
        CHECK(doc.ntoks == 1 && doc.toks[0].type == JC_JSON_NUMBER);
    free(c);
    if (ok(&doc, &c, "[]") == 0)
        CHECK(doc.toks[0].count == 0 && doc.toks[0].next == 1);
    free(c);
    if (ok(&doc, &c, "{}") == 0)
        CHECK(doc.toks[0].count == 0);
    free(c);

    /* NumericDate with a fraction is truncated; int64 bounds */
    if (ok(&doc, &c, "[1.9, -1.9, 9223372036854775807, -9223372036854775808,"
                     " 9223372036854775808, -9223372036854775809, 123456789012345678901234567890123]") == 0) {
        CHECK(jc_json_int64(&doc, 1, &v) == 0 && v == 1);
        CHECK(jc_json_int64(&doc, 2, &v) == 0 && v == -1);
        CHECK(jc_json_int64(&doc, 3, &v) == 0 && v == INT64_MAX);
        CHECK(jc_json_int64(&doc, 4, &v) == 0 && v == INT64_MIN);
        CHECK_EQ_INT(jc_json_int64(&doc, 5, &v), -1); /* overflow is refused, not clamped */
        CHECK_EQ_INT(jc_json_int64(&doc, 6, &v), -1);
        CHECK_EQ_INT(jc_json_int64(&doc, 7, &v), -1); /* too long */
        CHECK_EQ_INT(jc_json_int64(&doc, 0, &v), -1); /* an array */
    }
    free(c);

    /* literal UTF-8 of 2, 3 and 4 bytes, and U+007F, pass through */
    if (ok(&doc, &c, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"") == 0) {
        CHECK_EQ_INT(jc_json_string(&doc, 0, out, sizeof out), 10);
        CHECK_EQ_STR(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f");
    }
    free(c);
}

static void test_escapes(void)
{
    jc_json doc;
    char *c, out[64];

    if (ok(&doc, &c, "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20AC\", "
                     "\"\\ud83d\\ude00\", \"\\uDBFF\\uDFFF\", \"a\\u0000b\", \"plain\"]") == 0) {
        CHECK_EQ_INT(jc_json_string(&doc, 1, out, sizeof out), 8);
        CHECK_EQ_STR(out, "\"\\/\b\f\n\r\t");
        CHECK(doc.toks[1].escaped && !doc.toks[6].escaped);
        CHECK_EQ_INT(jc_json_string(&doc, 2, out, sizeof out), 6);
        CHECK_EQ_STR(out, "A\xc3\xa9\xe2\x82\xac");
        /* surrogate pairs become one 4-byte character */
        CHECK_EQ_INT(jc_json_string(&doc, 3, out, sizeof out), 4);
        CHECK_EQ_STR(out, "\xf0\x9f\x98\x80");
        CHECK_EQ_INT(jc_json_string(&doc, 4, out, sizeof out), 4);
        CHECK_EQ_STR(out, "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
        /* \u0000 would cut a C string: refused */
        CHECK_EQ_INT(jc_json_string(&doc, 5, out, sizeof out), -1);
        /* output bounds: the NUL always fits, never a partial character */
        CHECK_EQ_INT(jc_json_string(&doc, 6, out, 6), 5);
        CHECK_EQ_INT(jc_json_string(&doc, 6, out, 5), -1);
        CHECK_EQ_INT(jc_json_string(&doc, 6, out, 0), -1);
        CHECK_EQ_INT(jc_json_string(&doc, 3, out, 5), 4);
        CHECK_EQ_INT(jc_json_string(&doc, 3, out, 4), -1);
        CHECK_EQ_INT(jc_json_string(&doc, 0, out, sizeof out), -1); /* the array */
    }
    free(c);

    /* member names are compared unescaped */
    if (ok(&doc, &c, "{\"\\u0061lg\":\"x\",\"k\\u0000\":1}") == 0) {
        CHECK_EQ_INT(jc_json_member_string(&doc, 0, "alg", out, sizeof out), 1);
        CHECK_EQ_INT(jc_json_find(&doc, 0, "k"), -1);
    }
    free(c);
}

static void test_duplicates(void)
{
    jc_json doc;
    char *c, out[16];

    if (ok(&doc, &c, "{\"a\":1,\"b\":{\"a\":2},\"a\":3}") == 0) {
        CHECK_EQ_INT(jc_json_find(&doc, 0, "a"), -2);
        CHECK_EQ_INT(jc_json_member_string(&doc, 0, "a", out, sizeof out), -1);
        CHECK(jc_json_find(&doc, 0, "b") > 0); /* a nested "a" is not a duplicate */
    }
    free(c);
    /* the same name, spelled with an escape */
    if (ok(&doc, &c, "{\"sub\":\"x\",\"s\\u0075b\":\"y\"}") == 0)
        CHECK_EQ_INT(jc_json_find(&doc, 0, "sub"), -2);
    free(c);
}

static void test_limits(void)
{
    char deep[128], doc_text[600];
    jc_json doc;
    char *c;
    size_t n;

    /* depth: 16 nested containers are allowed, 17 are not */
    memset(deep, '[', 16);
    memset(deep + 16, ']', 16);
    deep[32] = '\0';
    if (ok(&doc, &c, deep) == 0)
        CHECK_EQ_INT(doc.ntoks, 16);
    free(c);
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

    /* tokens: exactly max values fit, one more does not */
    n = (size_t)snprintf(doc_text, sizeof doc_text, "[");
    for (int i = 0; i < MAXTOK - 1; i++)
        n += (size_t)snprintf(doc_text + n, sizeof doc_text - n, "%s%d", i ? "," : "", i);
    snprintf(doc_text + n, sizeof doc_text - n, "]");
    if (ok(&doc, &c, doc_text) == 0)
        CHECK_EQ_INT(doc.ntoks, MAXTOK);
    free(c);
    bad_n(doc_text, strlen(doc_text), MAXTOK - 1, "one token too many");
    bad_n("{\"a\":1}", 7, 2, "key and value need 3 tokens");
    bad_n("1", 1, 0, "no tokens at all");
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
    bad_n("\"\\\0\"", 4, MAXTOK, "backslash NUL");
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
    bad_n("\"a\0b\"", 5, MAXTOK, "raw NUL in a string");
    bad_n("{}\0", 3, MAXTOK, "NUL after the document");
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
    bad_n("\"\xf0\x9f", 3, MAXTOK, "4-byte lead at the end of input");
    bad("{\"\xc3\":1}", "invalid UTF-8 in a name");
    bad("\xc3\xa9", "non-ASCII outside a string");
}

/* test_truncations parses every prefix of a valid document: each must be
 * refused (only the whole is valid), without reading past the prefix. */
static void test_truncations(void)
{
    const char *full = "{\"a\":[1,-2.5e3,\"\\ud83d\\ude00\\n\",true,null],\"b\":{\"c\":false}}";
    size_t n = strlen(full);
    jc_json doc;
    char *c, err[128];

    for (size_t i = 0; i < n; i++) {
        int rc = parse_n(&doc, &c, full, i, MAXTOK, err, sizeof err);
        CHECK_MSG(rc == -1, "prefix of %zu bytes accepted", i);
        free(c);
    }
    CHECK_EQ_INT(parse_n(&doc, &c, full, n, MAXTOK, err, sizeof err), 0);
    free(c);
}

/* test_random_bytes throws pseudo-random documents at the parser: it may
 * accept or refuse, but tokens must stay inside the input. */
static void test_random_bytes(void)
{
    static const char alphabet[] = "{}[]\":,\\u0123456789abcdefABCDEF-+.eE tfnrl\x80\xc3\xed\xf0";
    uint32_t seed = 12345;
    char buf[48], err[128], *c;
    jc_json doc;

    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 47) + 1;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        if (parse_n(&doc, &c, buf, n, MAXTOK, err, sizeof err) == 0) {
            char out[64];
            for (uint32_t t = 0; t < doc.ntoks; t++) {
                CHECK(doc.toks[t].start + doc.toks[t].len <= n);
                CHECK(doc.toks[t].next > t && doc.toks[t].next <= doc.ntoks);
                if (doc.toks[t].type == JC_JSON_STRING)
                    (void)jc_json_string(&doc, (int)t, out, sizeof out);
                if (doc.toks[t].type == JC_JSON_OBJECT)
                    (void)jc_json_find(&doc, t, "a");
            }
        }
        free(c);
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
