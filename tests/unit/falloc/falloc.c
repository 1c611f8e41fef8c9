/*
 * falloc.c - replaces malloc, calloc, realloc, free, reallocarray and the
 * aligned allocators of the whole process (the test binary defines them,
 * so libmsgpackc, libconfig and glibc's own strdup and fopen call these)
 * on top of glibc's __libc_* entry points. While armed it counts the
 * allocations and makes the chosen one fail; it always counts the live
 * blocks. The process is single-threaded: plain globals are enough.
 *
 * It cannot run under AddressSanitizer, whose runtime owns malloc: the
 * test that links it is labelled nosan and runs in the release build.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "falloc.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t size);

static int armed, fired, tracing;
static long fail_at, n_allocs, n_spared, live;
static const char *spared_lib; /* allocations asked for from it never fail */

void falloc_arm(long nth)
{
    n_allocs = 0;
    n_spared = 0;
    fired = 0;
    tracing = getenv("JC_FALLOC_TRACE") != NULL;
    fail_at = nth;
    armed = 1;
}

long falloc_disarm(void)
{
    armed = 0;
    return n_allocs;
}

int falloc_fired(void) { return fired; }

void falloc_spare(const char *lib)
{
    void *frames[4];

    backtrace(frames, 4); /* its first call loads the unwinder: not while armed */
    spared_lib = lib;
}

long falloc_spared(void) { return n_spared; }

long falloc_live(void) { return live; }

/* trace names the function that asked for allocation n (JC_FALLOC_TRACE
 * set in the environment), to tell which code a failure point is in. */
static void trace(void *caller)
{
    Dl_info info;

    armed = 0; /* dladdr and stdio must not count themselves */
    if (dladdr(caller, &info) != 0)
        fprintf(stderr, "falloc: allocation %ld from %s in %s\n", n_allocs,
                info.dli_sname ? info.dli_sname : "?", info.dli_fname ? info.dli_fname : "?");
    armed = 1;
}

/* in_spared_lib says whether a frame of the calling stack is in the
 * spared library. */
static int in_spared_lib(void)
{
    void *frames[48];
    int n = backtrace(frames, 48);
    Dl_info info;

    for (int i = 0; i < n; i++) {
        if (dladdr(frames[i], &info) != 0 && info.dli_fname && strstr(info.dli_fname, spared_lib))
            return 1;
    }
    return 0;
}

/* fail_now counts one allocation and says whether it must fail. */
#define fail_now() fail_now_(__builtin_return_address(0))
static int fail_now_(void *caller)
{
    if (!armed)
        return 0;
    if (spared_lib != NULL) {
        int spared;

        armed = 0; /* backtrace and dladdr must not count themselves */
        spared = in_spared_lib();
        armed = 1;
        if (spared) {
            n_spared++;
            return 0;
        }
    }
    ++n_allocs;
    if (tracing)
        trace(caller);
    if (n_allocs != fail_at)
        return 0;
    fired = 1;
    errno = ENOMEM;
    return 1;
}

/* counted records a successful allocation. */
static void *counted(void *p)
{
    if (p != NULL)
        live++;
    return p;
}

void *malloc(size_t size)
{
    return fail_now() ? NULL : counted(__libc_malloc(size));
}

void *calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : counted(__libc_calloc(n, size));
}

void free(void *p)
{
    if (p != NULL)
        live--;
    __libc_free(p);
}

void *realloc(void *p, size_t size)
{
    if (p == NULL)
        return malloc(size);
    if (size == 0) { /* glibc frees p and returns NULL */
        free(p);
        return NULL;
    }
    if (fail_now())
        return NULL; /* p stays allocated, as realloc promises */
    return __libc_realloc(p, size); /* on failure p stays live: no change either way */
}

void *reallocarray(void *p, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n * size);
}

void *memalign(size_t align, size_t size)
{
    return fail_now() ? NULL : counted(__libc_memalign(align, size));
}

void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

int posix_memalign(void **out, size_t align, size_t size)
{
    void *p;

    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    p = memalign(align, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}
