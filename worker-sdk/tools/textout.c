/*
 * textout.c - how the tools write outcomes. A job's result is bytes: JSON
 * carries it both as text (when it is valid UTF-8) and as base64, so a
 * script never has to guess; a person sees it escaped, on one line. JSON
 * is written with jansson.
 */
#include "textout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capture.h"
#include "jcproto/proto.h"


json_t *json_text(const char *s, size_t n)
{
    return jc_utf8_valid((const uint8_t *)s, n) ? json_stringn(s, n) : json_null();
}

// json_base64 returns n bytes as a JSON string in standard base64, or
// NULL when an allocation failed.
static json_t *json_base64(const unsigned char *b, size_t n)
{
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(len);
    json_t *v = NULL;

    if (text) {
        sodium_bin2base64(text, len, b, n, sodium_base64_VARIANT_ORIGINAL);
        v = json_string(text);
    }
    free(text);
    return v;
}

// opt_text returns s as a JSON string, or null when it is NULL or "".
static json_t *opt_text(const char *s)
{
    return s && *s ? json_text(s, strlen(s)) : json_null();
}

int json_print(const char *tool, json_t *doc)
{
    /* json_dumpf allocates nothing while it writes (no sorted keys): what
     * reaches stdout is whole */
    int rc = doc ? json_dumpf(doc, stdout, JSON_COMPACT) : -1;

    json_decref(doc);
    if (rc == 0 && putchar('\n') != EOF && fflush(stdout) == 0)
        return 0;
    fprintf(stderr, "%s: cannot write JSON (out of memory, or stdout failed)\n", tool);
    return -1;
}

// text_escaped writes bytes for a human: newlines, tabs, control bytes and
// backslashes escaped C-style, and every byte as \xHH unless the whole is
// valid UTF-8.
void text_escaped(const char *s, size_t n)
{
    int utf8 = jc_utf8_valid((const uint8_t *)s, n);

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

void outcome_print(int json, const char *id, const char *state, const char *result,
                   size_t result_len, const char *error, const char *reason)
{
    if (json) {
        json_print("jobcoord-submit",
                   json_pack("{s:s,s:b,s:s?,s:o,s:o,s:o,s:o}", "id", id, "timed_out", !state,
                             "state", state, "result",
                             result_len ? json_text(result, result_len) : json_null(),
                             "result_base64",
                             result_len ? json_base64((const unsigned char *)result, result_len)
                                        : json_null(),
                             "error", opt_text(error), "reason", opt_text(reason)));
        return;
    } else {
        printf("id      %s\nstate   %s\n", id, state ? state : "unknown (timed out waiting)");
        if (result_len) {
            fputs("result  ", stdout);
            text_escaped(result, result_len);
            putchar('\n');
        }
        if (error && *error)
            printf("error   %s\n", error);
        if (reason && *reason)
            printf("reason  %s\n", reason);
    }
    fflush(stdout);
}

