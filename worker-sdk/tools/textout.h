/*
 * textout.h - the tools' output: job outcomes for people (aligned lines,
 * bytes escaped) and for scripts (one JSON object a line, written with
 * jansson).
 */
#ifndef JC_TOOLS_TEXTOUT_H
#define JC_TOOLS_TEXTOUT_H

#include <stddef.h>

#include <jansson.h>


/* json_text returns n bytes of s as a JSON string, or null when they are
 * not UTF-8 (NULL when an allocation failed). */
json_t *json_text(const char *s, size_t n);

/* json_print writes doc (taken; NULL: it could not be made) to stdout on
 * one line, compact, and flushes. Returns 0, or -1 after saying why on
 * stderr (tool: the program's name). */
int json_print(const char *tool, json_t *doc);

/* text_escaped writes bytes to stdout for a human: backslash, newline, tab
 * and control bytes escaped C-style, every byte of a result that is not
 * valid UTF-8 as \xHH. */
void text_escaped(const char *s, size_t n);

/* outcome_print writes a job's final state (NULL: the wait timed out),
 * result, error and cancel reason (NULL or "": none), as JSON or as text. */
void outcome_print(int json, const char *id, const char *state, const char *result,
                   size_t result_len, const char *error, const char *reason);

#endif
