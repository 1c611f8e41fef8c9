/*
 * json.h - reading the small JSON documents jobcoord reads (JWT headers and
 * claims, token endpoint answers), strictly, with jansson.
 *
 * jansson (RFC 8259) refuses trailing garbage, bad escapes, lone
 * surrogates, control characters in strings, invalid UTF-8 and leading
 * zeros; jc_json_parse adds what a security token needs: a member present
 * twice is an error (JSON_REJECT_DUPLICATES), U+0000 is refused in every
 * string, the root must be an object or an array, and documents nested
 * deeper than JC_JSON_MAX_DEPTH are refused. Values are read with
 * jansson's own calls (json_object_get, json_is_string, ...) and the three
 * helpers below; the document is freed with json_decref.
 */
#ifndef JC_JSON_H
#define JC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JC_JSON_MAX_DEPTH 16

/* jc_json_parse parses src[0..len). Returns the document (the caller
 * json_decrefs it), or NULL with a reason in err (malformed, a duplicate
 * member, too deep, out of memory). */
json_t *jc_json_parse(const char *src, size_t len, char *err, size_t err_size);

/* jc_json_wipe_on_free makes jansson wipe every block it frees, for the
 * programs whose documents hold keys, secrets or tokens (jobcoord-admin,
 * jobcoord-token): no copy stays in freed memory. It sets jansson's
 * allocator for the whole process: call it once at start, before any
 * document is made. */
void jc_json_wipe_on_free(void);

/* jc_json_string copies string value v into out (NUL-terminated). Returns
 * its length, or -1 if v is NULL or not a string, or it does not fit. */
int jc_json_string(const json_t *v, char *out, size_t out_size);

/* jc_json_int64 reads number value v as an integer: an integer as it is, a
 * number with a fraction or an exponent truncated (a JWT NumericDate may
 * carry a fraction). Returns 0, or -1 (NULL, not a number, beyond the int64
 * range). */
int jc_json_int64(const json_t *v, int64_t *out);

/* jc_json_member_string: json_object_get + jc_json_string in one call (-1
 * when obj is not an object or has no such member). */
int jc_json_member_string(const json_t *obj, const char *key, char *out, size_t out_size);

#endif
