/*
 * textout.c - how jobcoord-submit writes outcomes. A job's result is bytes:
 * JSON carries it both as text (when it is valid UTF-8) and as base64, so
 * a script never has to guess; a person sees it escaped, on one line.
 */
#include "textout.h"

#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "jcproto/proto.h"

// json_str writes s (n bytes, valid UTF-8) as a JSON string.
void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

// json_base64 writes bytes as a JSON string in standard base64.
void json_base64(const unsigned char *b, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    putchar('"');
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)b[i + 1] << 8;
        if (i + 2 < n)
            v |= b[i + 2];
        putchar(tab[(v >> 18) & 63]);
        putchar(tab[(v >> 12) & 63]);
        putchar(i + 1 < n ? tab[(v >> 6) & 63] : '=');
        putchar(i + 2 < n ? tab[v & 63] : '=');
    }
    putchar('"');
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
        printf("{\"id\":\"%s\",\"timed_out\":%s,\"state\":", id, state ? "false" : "true");
        if (state)
            json_str(state, strlen(state));
        else
            fputs("null", stdout);
        fputs(",\"result\":", stdout);
        if (result_len && jc_utf8_valid((const uint8_t *)result, result_len))
            json_str(result, result_len);
        else
            fputs("null", stdout);
        fputs(",\"result_base64\":", stdout);
        if (result_len)
            json_base64((const unsigned char *)result, result_len);
        else
            fputs("null", stdout);
        fputs(",\"error\":", stdout);
        if (error && *error)
            json_str(error, strlen(error));
        else
            fputs("null", stdout);
        fputs(",\"reason\":", stdout);
        if (reason && *reason)
            json_str(reason, strlen(reason));
        else
            fputs("null", stdout);
        printf("}\n");
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

