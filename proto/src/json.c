/*
 * json.c - the strict reading of small JSON documents over jansson (see
 * json.h). jansson does the parsing; this file sets the flags that make it
 * strict, bounds the depth, and reads strings and integers into the fixed
 * buffers the callers keep.
 */
#include "jcproto/json.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* wiping_free is jansson's free under jc_json_wipe_on_free: it wipes the
 * whole block first. */
static void wiping_free(void *p)
{
    if (p)
        sodium_memzero(p, malloc_usable_size(p));
    free(p);
}

void jc_json_wipe_on_free(void)
{
    json_set_alloc_funcs(malloc, wiping_free);
}

/* depth_ok tells whether v nests at most max levels of arrays and objects. */
static int depth_ok(const json_t *v, int max)
{
    if (json_is_object(v)) {
        const char *k;
        const json_t *m;
        if (max == 0)
            return 0;
        json_object_foreach ((json_t *)v, k, m)
            if (!depth_ok(m, max - 1))
                return 0;
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        if (max == 0)
            return 0;
        json_array_foreach (v, i, e)
            if (!depth_ok(e, max - 1))
                return 0;
    }
    return 1;
}

json_t *jc_json_parse(const char *src, size_t len, char *err, size_t err_size)
{
    json_error_t je;
    json_t *doc;

    if (!src || len == 0) {
        snprintf(err, err_size, "empty document");
        return NULL;
    }
    /* no JSON_DECODE_ANY (the root is an object or an array), no
     * JSON_ALLOW_NUL (U+0000 is refused), no JSON_DISABLE_EOF_CHECK */
    doc = json_loadb(src, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        /* jansson's words, but for the two rules jobcoord adds */
        const char *what = strstr(je.text, "duplicate object key") ? "a duplicate member"
                           : strstr(je.text, "JSON_ALLOW_NUL")     ? "U+0000 in a string"
                                                                   : je.text;
        snprintf(err, err_size, "invalid JSON: %s at byte %d", what, je.position);
        return NULL;
    }
    if (!depth_ok(doc, JC_JSON_MAX_DEPTH)) {
        json_decref(doc);
        snprintf(err, err_size, "nested deeper than %d levels", JC_JSON_MAX_DEPTH);
        return NULL;
    }
    return doc;
}

int jc_json_string(const json_t *v, char *out, size_t out_size)
{
    size_t n;

    if (!json_is_string(v) || out_size == 0)
        return -1;
    n = json_string_length(v);
    if (n >= out_size)
        return -1;
    memcpy(out, json_string_value(v), n);
    out[n] = '\0';
    return (int)n;
}

int jc_json_int64(const json_t *v, int64_t *out)
{
    double d;

    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_real(v))
        return -1;
    d = json_real_value(v);
    /* out of range: refused, not clamped (an exp in eternity); in range,
     * the conversion truncates toward zero (no libm needed) */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return -1;
    *out = (int64_t)d;
    return 0;
}

int jc_json_member_string(const json_t *obj, const char *key, char *out, size_t out_size)
{
    return jc_json_string(json_object_get(obj, key), out, out_size);
}
