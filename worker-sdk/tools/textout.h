/*
 * textout.h - jobcoord-submit's output: job outcomes for people (aligned
 * lines, bytes escaped) and for scripts (one JSON object a line).
 */
#ifndef JC_TOOLS_TEXTOUT_H
#define JC_TOOLS_TEXTOUT_H

#include <stddef.h>

/* json_str writes s (n bytes) to stdout as a JSON string; s must be valid
 * UTF-8 (control bytes are escaped). */
void json_str(const char *s, size_t n);

/* json_base64 writes n bytes to stdout as a JSON string in standard
 * base64. */
void json_base64(const unsigned char *b, size_t n);

/* text_escaped writes bytes to stdout for a human: backslash, newline, tab
 * and control bytes escaped C-style, every byte of a result that is not
 * valid UTF-8 as \xHH. */
void text_escaped(const char *s, size_t n);

/* outcome_print writes a job's final state (NULL: the wait timed out),
 * result, error and cancel reason (NULL or "": none), as JSON or as text. */
void outcome_print(int json, const char *id, const char *state, const char *result,
                   size_t result_len, const char *error, const char *reason);

#endif
