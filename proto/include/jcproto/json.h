/*
 * json.h - a strict, bounded JSON reader for the small documents jobcoord
 * reads: JWT headers and claims, and token endpoint answers (RFC 8259).
 *
 * jc_json_parse tokenizes a whole document into a caller-provided token
 * array (no allocation), rejecting anything RFC 8259 does not allow:
 * trailing garbage, bad escapes, lone surrogates, control characters in
 * strings, invalid UTF-8, leading zeros, depth over JC_JSON_MAX_DEPTH. Each
 * token points into the input. Objects and arrays know their member count
 * and where they end, so lookups skip whole subtrees.
 */
#ifndef JC_JSON_H
#define JC_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JC_JSON_MAX_DEPTH 16

typedef enum jc_json_type {
    JC_JSON_NULL = 1,
    JC_JSON_FALSE,
    JC_JSON_TRUE,
    JC_JSON_NUMBER,
    JC_JSON_STRING, /* start/len: the raw text between the quotes */
    JC_JSON_ARRAY,
    JC_JSON_OBJECT,
} jc_json_type;

typedef struct jc_json_tok {
    jc_json_type type;
    uint32_t start, len; /* offsets into the input */
    uint32_t count;      /* arrays: elements, objects: members */
    uint32_t next;       /* index of the token after this one and its subtree */
    uint8_t escaped;     /* strings: contains a backslash escape */
} jc_json_tok;

typedef struct jc_json {
    const char *src;
    size_t src_len;
    jc_json_tok *toks;
    uint32_t ntoks;
} jc_json;

/* jc_json_parse parses src[0..len) into toks (max entries). Returns 0, or -1
 * with a reason in err (malformed, too deep, too many tokens). Token 0 is the
 * root; an object's members follow it as key, value, key, value... */
int jc_json_parse(jc_json *doc, const char *src, size_t len, jc_json_tok *toks, uint32_t max,
                  char *err, size_t err_size);

/* jc_json_find returns the index of the value of member key in object obj,
 * or -1 (not an object, or no such key). Keys are compared after unescaping.
 * A key present twice makes it return -2 (JWT claims must be unique). */
int jc_json_find(const jc_json *doc, uint32_t obj, const char *key);

/* jc_json_string unescapes string token i into out (NUL-terminated).
 * Returns its length, or -1 if not a string, too long, or it contains U+0000. */
int jc_json_string(const jc_json *doc, int i, char *out, size_t out_size);

/* jc_json_int64 reads number token i as an integer (no fraction or exponent;
 * JWT NumericDate with a fraction is read by truncating it). Returns 0, or
 * -1 (not a number, an exponent, or beyond the int64 range). */
int jc_json_int64(const jc_json *doc, int i, int64_t *out);

/* jc_json_member_string: find + string in one call (-1 when absent). */
int jc_json_member_string(const jc_json *doc, uint32_t obj, const char *key, char *out,
                          size_t out_size);

#endif
