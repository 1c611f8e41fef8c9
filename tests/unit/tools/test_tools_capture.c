/* test_tools_capture: output lines made fit for log events, the result
 * tail, and jobcoord-submit's escaping of results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "jcproto/proto.h"
#include "check.h"
#include "textout.h"

#define MAX_LINES 16

typedef struct lines {
    char text[MAX_LINES][LINE_MAX_TEXT + 1];
    int n;
} lines;

static void collect(const char *line, void *arg)
{
    lines *l = arg;
    size_t n = strlen(line);

    CHECK(n >= 1 && n <= LINE_MAX_TEXT);
    CHECK(jc_utf8_valid((const uint8_t *)line, n));
    if (l->n < MAX_LINES)
        strcpy(l->text[l->n++], line);
}

static void feed(linebuf *lb, lines *l, const char *s)
{
    linebuf_feed(lb, s, strlen(s), collect, l);
}

static void test_lines(void)
{
    linebuf lb;
    lines *l = calloc(1, sizeof *l);
    char *big = malloc(10000);

    memset(&lb, 0, sizeof lb);
    feed(&lb, l, "hello wo");
    CHECK_EQ_INT(l->n, 0);
    feed(&lb, l, "rld\nsecond\r\n\n\nthird");
    CHECK_EQ_INT(l->n, 2);
    CHECK_EQ_STR(l->text[0], "hello world");
    CHECK_EQ_STR(l->text[1], "second");
    linebuf_flush(&lb, collect, l);
    CHECK_EQ_INT(l->n, 3);
    CHECK_EQ_STR(l->text[2], "third");
    linebuf_flush(&lb, collect, l);
    CHECK_EQ_INT(l->n, 3);

    /* invalid UTF-8 and NUL become U+FFFD */
    l->n = 0;
    linebuf_feed(&lb, "a\xff" "b\0c\xc3\xa9\xed\xa0\x80\n", 11, collect, l);
    CHECK_EQ_INT(l->n, 1);
    CHECK_EQ_STR(l->text[0], "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xc3\xa9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");

    /* a long line is cut at 4096 bytes, the rest of it dropped */
    l->n = 0;
    memset(big, 'x', 9999);
    big[9999] = '\0';
    feed(&lb, l, big);
    CHECK_EQ_INT(l->n, 1);
    CHECK_EQ_INT(strlen(l->text[0]), LINE_MAX_TEXT);
    feed(&lb, l, "yyy\nnext\n");
    CHECK_EQ_INT(l->n, 2);
    CHECK_EQ_STR(l->text[1], "next");
    /* a cut never splits a character */
    l->n = 0;
    memset(big, 'x', 4095);
    memcpy(big + 4095, "\xc3\xa9zz\n", 6);
    feed(&lb, l, big);
    CHECK_EQ_INT(l->n, 1);
    CHECK(strlen(l->text[0]) <= LINE_MAX_TEXT);
    /* exactly 4096 bytes is not cut */
    l->n = 0;
    memset(big, 'q', 4096);
    big[4096] = '\n';
    big[4097] = '\0';
    feed(&lb, l, big);
    feed(&lb, l, "after\n");
    CHECK_EQ_INT(l->n, 2);
    CHECK_EQ_INT(strlen(l->text[0]), 4096);
    CHECK_EQ_STR(l->text[1], "after");
    free(big);
    free(l);
}

static void test_utf8(void)
{
    char out[8];

    CHECK(jc_utf8_valid((const uint8_t *)"", 0));
    CHECK(jc_utf8_valid((const uint8_t *)"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    CHECK(!jc_utf8_valid((const uint8_t *)"a\0b", 3));
    CHECK(!jc_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
    CHECK(!jc_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));     /* overlong */
    CHECK(!jc_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!jc_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!jc_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* truncated */
    CHECK_EQ_INT(utf8_sanitize("abc\xe2\x82\xac", 6, out, sizeof out), 6);
    CHECK_EQ_INT(utf8_sanitize("abcde\xe2\x82\xac", 8, out, sizeof out), 5); /* no half char */
    CHECK_EQ_STR(out, "abcde");
}

static void test_tail(void)
{
    tailbuf tb;
    char *s;
    size_t n;

    CHECK_EQ_INT(tailbuf_init(&tb, 5), 0);
    CHECK(tailbuf_take(&tb, &n) == NULL);
    CHECK_EQ_INT(n, 0);
    tailbuf_add(&tb, "abc", 3);
    s = tailbuf_take(&tb, &n);
    CHECK(n == 3 && memcmp(s, "abc", 3) == 0);
    free(s);
    tailbuf_add(&tb, "defg", 4);
    s = tailbuf_take(&tb, &n);
    CHECK(n == 5 && memcmp(s, "cdefg", 5) == 0);
    free(s);
    tailbuf_add(&tb, "h", 1);
    tailbuf_add(&tb, "ij", 2);
    s = tailbuf_take(&tb, &n);
    CHECK(n == 5 && memcmp(s, "fghij", 5) == 0);
    free(s);
    tailbuf_add(&tb, "0123456789", 10);
    s = tailbuf_take(&tb, &n);
    CHECK(n == 5 && memcmp(s, "56789", 5) == 0);
    free(s);
    tailbuf_free(&tb);

    CHECK_EQ_INT(tailbuf_init(&tb, 0), 0);
    tailbuf_add(&tb, "abc", 3);
    CHECK(tailbuf_take(&tb, &n) == NULL);
    tailbuf_free(&tb);
}

// printed runs fn with stdout sent to a buffer, and returns the text.
static const char *printed(void (*fn)(void))
{
    static char buf[1024];
    FILE *f = tmpfile();
    int saved = dup(1);
    size_t n;

    fflush(stdout);
    dup2(fileno(f), 1);
    fn();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void print_ok(void)
{
    outcome_print(1, "id1", "succeeded", "hi \"x\"\n", 7, NULL, NULL);
}
static void print_binary(void)
{
    outcome_print(1, "id2", "failed", "\xff\x00z", 3, "exit status 3", "");
}
static void print_timeout(void)
{
    outcome_print(1, "id3", NULL, NULL, 0, NULL, NULL);
}
static void print_text(void)
{
    outcome_print(0, "id4", "succeeded", "a\\b\n\x01\xff", 6, NULL, NULL);
}
static void print_canceled(void)
{
    outcome_print(1, "id5", "canceled", NULL, 0, "boom", "superseded");
    outcome_print(0, "id5", "canceled", NULL, 0, "boom", "superseded");
}

static void test_textout(void)
{
    CHECK_EQ_STR(printed(print_ok),
                 "{\"id\":\"id1\",\"timed_out\":false,\"state\":\"succeeded\",\"result\":\"hi "
                 "\\\"x\\\"\\n\",\"result_base64\":\"aGkgIngiCg==\",\"error\":null,\"reason\":null}\n");
    CHECK_EQ_STR(printed(print_binary),
                 "{\"id\":\"id2\",\"timed_out\":false,\"state\":\"failed\",\"result\":null,"
                 "\"result_base64\":\"/wB6\",\"error\":\"exit status 3\",\"reason\":null}\n");
    CHECK_EQ_STR(printed(print_timeout),
                 "{\"id\":\"id3\",\"timed_out\":true,\"state\":null,\"result\":null,"
                 "\"result_base64\":null,\"error\":null,\"reason\":null}\n");
    CHECK_EQ_STR(printed(print_text),
                 "id      id4\nstate   succeeded\nresult  a\\\\b\\n\\x01\\xff\n");
    CHECK_EQ_STR(printed(print_canceled),
                 "{\"id\":\"id5\",\"timed_out\":false,\"state\":\"canceled\",\"result\":null,"
                 "\"result_base64\":null,\"error\":\"boom\",\"reason\":\"superseded\"}\n"
                 "id      id5\nstate   canceled\nerror   boom\nreason  superseded\n");
}

int main(void)
{
    test_lines();
    test_utf8();
    test_tail();
    test_textout();
    return check_done("test_tools_capture");
}
