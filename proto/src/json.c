/*
 * json.c - the strict, bounded JSON reader (see json.h).
 */
#include "jcproto/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    jc_json_tok *toks;
    uint32_t max, n;
    char *err;
    size_t err_size;
} parser;

static int fail(parser *p, const char *what)
{
    snprintf(p->err, p->err_size, "invalid JSON at byte %zu: %s", p->pos, what);
    return -1;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int hex4(const unsigned char *h, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = h[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* utf8_len returns the length of the valid UTF-8 sequence at s (at most n
 * bytes), 0 if invalid (overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static int new_tok(parser *p, jc_json_type t, uint32_t *idx)
{
    if (p->n == p->max)
        return fail(p, "too many values");
    memset(&p->toks[p->n], 0, sizeof p->toks[p->n]);
    p->toks[p->n].type = t;
    p->toks[p->n].start = (uint32_t)p->pos;
    *idx = p->n++;
    return 0;
}

static int parse_string(parser *p)
{
    uint32_t idx;
    if (new_tok(p, JC_JSON_STRING, &idx) < 0)
        return -1;
    p->pos++; /* opening quote */
    p->toks[idx].start = (uint32_t)p->pos;
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->toks[idx].len = (uint32_t)(p->pos - p->toks[idx].start);
            p->toks[idx].next = p->n;
            p->pos++;
            return 0;
        }
        if (c < 0x20)
            return fail(p, "control character in string");
        if (c == '\\') {
            unsigned u, lo;
            p->toks[idx].escaped = 1;
            if (p->pos + 1 >= p->len)
                return fail(p, "unterminated escape");
            c = p->s[p->pos + 1];
            if (strchr("\"\\/bfnrt", c) && c) {
                p->pos += 2;
                continue;
            }
            if (c != 'u' || p->pos + 6 > p->len || hex4(p->s + p->pos + 2, &u) < 0)
                return fail(p, "bad escape");
            p->pos += 6;
            if (u >= 0xdc00 && u <= 0xdfff)
                return fail(p, "lone low surrogate");
            if (u >= 0xd800 && u <= 0xdbff) {
                if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p->s + p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return fail(p, "lone high surrogate");
                p->pos += 6;
            }
            continue;
        }
        {
            size_t n = utf8_len(p->s + p->pos, p->len - p->pos);
            if (n == 0)
                return fail(p, "invalid UTF-8");
            p->pos += n;
        }
    }
    return fail(p, "unterminated string");
}

static int parse_number(parser *p)
{
    uint32_t idx;
    size_t st = p->pos;
    if (new_tok(p, JC_JSON_NUMBER, &idx) < 0)
        return -1;
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len)
        return fail(p, "bad number");
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else if (p->s[p->pos] >= '1' && p->s[p->pos] <= '9') {
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    } else {
        return fail(p, "bad number");
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return fail(p, "bad fraction");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return fail(p, "bad exponent");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    }
    p->toks[idx].start = (uint32_t)st;
    p->toks[idx].len = (uint32_t)(p->pos - st);
    p->toks[idx].next = p->n;
    return 0;
}

static int parse_value(parser *p, int depth);

static int parse_container(parser *p, int depth, int object)
{
    uint32_t idx;
    if (depth >= JC_JSON_MAX_DEPTH)
        return fail(p, "nested too deep");
    if (new_tok(p, object ? JC_JSON_OBJECT : JC_JSON_ARRAY, &idx) < 0)
        return -1;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == (object ? '}' : ']')) {
        p->pos++;
        p->toks[idx].len = (uint32_t)(p->pos - p->toks[idx].start);
        p->toks[idx].next = p->n;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return fail(p, "expected a member name");
            if (parse_string(p) < 0)
                return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail(p, "expected ':'");
            p->pos++;
            skip_ws(p);
        }
        if (parse_value(p, depth + 1) < 0)
            return -1;
        p->toks[idx].count++;
        skip_ws(p);
        if (p->pos >= p->len)
            return fail(p, "unterminated container");
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == (object ? '}' : ']')) {
            p->pos++;
            p->toks[idx].len = (uint32_t)(p->pos - p->toks[idx].start);
            p->toks[idx].next = p->n;
            return 0;
        }
        return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_literal(parser *p, const char *word, jc_json_type t)
{
    uint32_t idx;
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, "unexpected character");
    if (new_tok(p, t, &idx) < 0)
        return -1;
    p->pos += n;
    p->toks[idx].len = (uint32_t)n;
    p->toks[idx].next = p->n;
    return 0;
}

static int parse_value(parser *p, int depth)
{
    if (p->pos >= p->len)
        return fail(p, "unexpected end");
    switch (p->s[p->pos]) {
    case '{':
        return parse_container(p, depth, 1);
    case '[':
        return parse_container(p, depth, 0);
    case '"':
        return parse_string(p);
    case 't':
        return parse_literal(p, "true", JC_JSON_TRUE);
    case 'f':
        return parse_literal(p, "false", JC_JSON_FALSE);
    case 'n':
        return parse_literal(p, "null", JC_JSON_NULL);
    default:
        if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
            return parse_number(p);
        return fail(p, "unexpected character");
    }
}

int jc_json_parse(jc_json *doc, const char *src, size_t len, jc_json_tok *toks, uint32_t max,
                  char *err, size_t err_size)
{
    parser p = {(const unsigned char *)src, len, 0, toks, max, 0, err, err_size};
    memset(doc, 0, sizeof *doc);
    if (len > UINT32_MAX / 2) {
        snprintf(err, err_size, "JSON document too large");
        return -1;
    }
    skip_ws(&p);
    if (parse_value(&p, 0) < 0)
        return -1;
    skip_ws(&p);
    if (p.pos != len)
        return fail(&p, "trailing characters");
    doc->src = src;
    doc->src_len = len;
    doc->toks = toks;
    doc->ntoks = p.n;
    return 0;
}

static int put_utf8(char *out, size_t out_size, size_t *o, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp == 0)
        return -1;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (*o + n >= out_size)
        return -1;
    memcpy(out + *o, b, n);
    *o += n;
    return 0;
}

int jc_json_string(const jc_json *doc, int i, char *out, size_t out_size)
{
    const jc_json_tok *t;
    const unsigned char *s;
    size_t o = 0;
    if (i < 0 || (uint32_t)i >= doc->ntoks || doc->toks[i].type != JC_JSON_STRING || !out_size)
        return -1;
    t = &doc->toks[i];
    s = (const unsigned char *)doc->src + t->start;
    for (uint32_t k = 0; k < t->len;) {
        unsigned cp = 0, lo = 0; /* escapes were validated by the parser */
        if (s[k] != '\\') {
            if (o + 1 >= out_size)
                return -1;
            out[o++] = (char)s[k++];
            continue;
        }
        switch (s[k + 1]) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            hex4(s + k + 2, &cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                hex4(s + k + 8, &lo);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                k += 6;
            }
            k += 4;
            break;
        default: cp = s[k + 1];
        }
        k += 2;
        if (put_utf8(out, out_size, &o, cp) < 0)
            return -1;
    }
    out[o] = '\0';
    return (int)o;
}

int jc_json_find(const jc_json *doc, uint32_t obj, const char *key)
{
    const jc_json_tok *t;
    uint32_t k;
    int found = -1;
    char name[256];
    if (obj >= doc->ntoks || doc->toks[obj].type != JC_JSON_OBJECT)
        return -1;
    t = &doc->toks[obj];
    k = obj + 1;
    for (uint32_t m = 0; m < t->count; m++) {
        uint32_t v = k + 1;
        int n = jc_json_string(doc, (int)k, name, sizeof name);
        if (n >= 0 && strcmp(name, key) == 0) {
            if (found >= 0)
                return -2;
            found = (int)v;
        }
        k = doc->toks[v].next;
    }
    return found;
}

int jc_json_int64(const jc_json *doc, int i, int64_t *out)
{
    char num[32];
    char *end;
    long long v;
    const jc_json_tok *t;
    if (i < 0 || (uint32_t)i >= doc->ntoks || doc->toks[i].type != JC_JSON_NUMBER)
        return -1;
    t = &doc->toks[i];
    if (t->len >= sizeof num)
        return -1;
    memcpy(num, doc->src + t->start, t->len);
    num[t->len] = '\0';
    if (strpbrk(num, "eE"))
        return -1;
    num[strcspn(num, ".")] = '\0'; /* NumericDate may carry a fraction */
    errno = 0;
    v = strtoll(num, &end, 10);
    if (*end || errno == ERANGE) /* out of range: not clamped to LLONG_MAX (an exp in eternity) */
        return -1;
    *out = v;
    return 0;
}

int jc_json_member_string(const jc_json *doc, uint32_t obj, const char *key, char *out,
                          size_t out_size)
{
    return jc_json_string(doc, jc_json_find(doc, obj, key), out, out_size);
}
