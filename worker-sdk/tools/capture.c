/*
 * capture.c - a program's output made into log lines and a result.
 *
 * Programs write bytes, not text; the protocol's log lines are 1..4096
 * bytes of valid UTF-8 without U+0000. So each line is cut to what fits,
 * never in the middle of a character, and bytes that are not UTF-8 are
 * shown as U+FFFD rather than refused (a log line that the coordinator
 * would reject helps no one). Memory is fixed: one line buffer per stream
 * and a ring of result_bytes for stdout's tail, whatever the program
 * writes.
 */
#include "capture.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jcproto/proto.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t utf8_sanitize(const char *in, size_t n, char *out, size_t out_size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, w = 0;

    while (i < n) {
        size_t clen = jc_utf8_char_len(s + i, n - i);
        const char *src = clen ? in + i : replacement;
        size_t wlen = clen ? clen : 3;

        if (w + wlen >= out_size)
            break;
        memcpy(out + w, src, wlen);
        w += wlen;
        i += clen ? clen : 1;
    }
    out[w] = '\0';
    return w;
}

// emit reports the buffered line (if not empty) and empties the buffer.
static void emit(linebuf *lb, line_fn fn, void *arg)
{
    char text[LINE_MAX_TEXT + 1];
    size_t n = lb->len;

    if (n > 0 && lb->raw[n - 1] == '\r')
        n--;
    lb->len = 0;
    if (utf8_sanitize(lb->raw, n, text, sizeof text) > 0)
        fn(text, arg);
}

void linebuf_feed(linebuf *lb, const char *data, size_t n, line_fn fn, void *arg)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t chunk = nl ? (size_t)(nl - data) : n;

        if (!lb->cut) {
            size_t room = sizeof lb->raw - lb->len;
            size_t take = chunk < room ? chunk : room;

            memcpy(lb->raw + lb->len, data, take);
            lb->len += take;
            if (take < chunk) {
                emit(lb, fn, arg); /* the first LINE_MAX_TEXT bytes */
                lb->cut = 1;
            }
        }
        if (!nl)
            return;
        if (!lb->cut)
            emit(lb, fn, arg);
        lb->cut = 0;
        data = nl + 1;
        n -= chunk + 1;
    }
}

void linebuf_flush(linebuf *lb, line_fn fn, void *arg)
{
    if (!lb->cut && lb->len > 0)
        emit(lb, fn, arg);
    lb->len = 0;
    lb->cut = 0;
}

int tailbuf_init(tailbuf *tb, size_t cap)
{
    memset(tb, 0, sizeof *tb);
    if (cap == 0)
        return 0;
    tb->buf = malloc(cap);
    if (!tb->buf)
        return -1;
    tb->cap = cap;
    return 0;
}

void tailbuf_add(tailbuf *tb, const char *data, size_t n)
{
    size_t end, first;

    if (tb->cap == 0 || n == 0)
        return;
    if (n >= tb->cap) {
        memcpy(tb->buf, data + n - tb->cap, tb->cap);
        tb->start = 0;
        tb->len = tb->cap;
        return;
    }
    end = (tb->start + tb->len) % tb->cap;
    first = tb->cap - end < n ? tb->cap - end : n;
    memcpy(tb->buf + end, data, first);
    memcpy(tb->buf, data + first, n - first);
    if (tb->len + n <= tb->cap) {
        tb->len += n;
    } else {
        tb->start = (tb->start + tb->len + n) % tb->cap;
        tb->len = tb->cap;
    }
}

char *tailbuf_take(const tailbuf *tb, size_t *len)
{
    char *out;
    size_t first;

    *len = 0;
    if (tb->len == 0)
        return NULL;
    out = malloc(tb->len);
    if (!out)
        return NULL;
    first = tb->cap - tb->start < tb->len ? tb->cap - tb->start : tb->len;
    memcpy(out, tb->buf + tb->start, first);
    memcpy(out + first, tb->buf, tb->len - first);
    *len = tb->len;
    return out;
}

void tailbuf_free(tailbuf *tb)
{
    free(tb->buf);
    memset(tb, 0, sizeof *tb);
}
