/*
 * check.h - the assertions of jobcoord's C tests. Each failed CHECK prints
 * where and why and counts a failure; check_done() prints a TAP-like summary
 * and gives main's exit status.
 */
#ifndef JC_TEST_CHECK_H
#define JC_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_;
static int check_count_;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count_++;                                                              \
        if (!(cond)) {                                                               \
            check_failures_++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        check_count_++;                                                              \
        if (!(cond)) {                                                               \
            check_failures_++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        check_count_++;                                                                    \
        if (a_ != b_) {                                                                    \
            check_failures_++;                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__,    \
                    __LINE__, #a, #b, a_, b_);                                             \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                  \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        check_count_++;                                                                     \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                            \
            check_failures_++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__, \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
        }                                                                                   \
    } while (0)

static inline int check_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count_, check_failures_);
    if (check_count_ == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    return check_failures_ ? 1 : 0;
}

#endif
