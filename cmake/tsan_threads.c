/*
 * tsan_threads.c - linked into every program of a -DTSAN=ON build only.
 *
 * librdkafka starts its threads with C11 thrd_create(). Since glibc 2.34,
 * thrd_create calls glibc's internal pthread_create directly, past the
 * pthread_create that ThreadSanitizer intercepts (GCC 12 and clang 14 have
 * no thrd_create interceptor), so those threads run without the sanitizer's
 * per-thread state and crash on their first allocation (SEGV inside the
 * TSan allocator, "rdk:mock" or "rdk:main" threads). Defining thrd_create
 * in the program makes librdkafka's calls bind here, and this one goes
 * through the intercepted pthread_create: the threads are then known to
 * TSan, which also sees the happens-before of their start and join.
 *
 * The other C11 calls bypass the interceptors the same way: thrd_join
 * (TSan would report every joined librdkafka thread as leaked), and the
 * C11 mutexes, condition variables and call_once that librdkafka locks
 * with (TSan would not see the locks, and would report every access they
 * protect, inside librdkafka, as a race). Each goes through its intercepted
 * pthread counterpart here; glibc's C11 types are its pthread types
 * (thrd_t a pthread_t, mtx_t and cnd_t the same bytes as pthread_mutex_t
 * and pthread_cond_t, once_flag a pthread_once_t), and glibc's own
 * implementation is these same casts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

typedef struct tsan_thrd_start {
    thrd_start_t func;
    void *arg;
} tsan_thrd_start;

static void *tsan_thrd_trampoline(void *p)
{
    tsan_thrd_start start = *(tsan_thrd_start *)p;
    free(p);
    return (void *)(intptr_t)start.func(start.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
    tsan_thrd_start *start = malloc(sizeof *start);
    int rc;
    if (!start)
        return thrd_nomem;
    start->func = func;
    start->arg = arg;
    rc = pthread_create((pthread_t *)thr, NULL, tsan_thrd_trampoline, start);
    if (rc != 0) {
        free(start);
        return thrd_error;
    }
    return thrd_success;
}

int thrd_join(thrd_t thr, int *res)
{
    void *value = NULL;
    if (pthread_join((pthread_t)thr, &value) != 0)
        return thrd_error;
    if (res)
        *res = (int)(intptr_t)value;
    return thrd_success;
}

int thrd_detach(thrd_t thr)
{
    return pthread_detach((pthread_t)thr) == 0 ? thrd_success : thrd_error;
}

int mtx_init(mtx_t *m, int type)
{
    pthread_mutexattr_t attr;
    int rc;
    if (pthread_mutexattr_init(&attr) != 0)
        return thrd_error;
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    rc = pthread_mutex_init((pthread_mutex_t *)m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? thrd_success : thrd_error;
}

void mtx_destroy(mtx_t *m)
{
    pthread_mutex_destroy((pthread_mutex_t *)m);
}

int mtx_lock(mtx_t *m)
{
    return pthread_mutex_lock((pthread_mutex_t *)m) == 0 ? thrd_success : thrd_error;
}

int mtx_trylock(mtx_t *m)
{
    int rc = pthread_mutex_trylock((pthread_mutex_t *)m);
    return rc == 0 ? thrd_success : rc == EBUSY ? thrd_busy : thrd_error;
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
    int rc = pthread_mutex_timedlock((pthread_mutex_t *)m, ts);
    return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

int mtx_unlock(mtx_t *m)
{
    return pthread_mutex_unlock((pthread_mutex_t *)m) == 0 ? thrd_success : thrd_error;
}

int cnd_init(cnd_t *c)
{
    return pthread_cond_init((pthread_cond_t *)c, NULL) == 0 ? thrd_success : thrd_error;
}

void cnd_destroy(cnd_t *c)
{
    pthread_cond_destroy((pthread_cond_t *)c);
}

int cnd_signal(cnd_t *c)
{
    return pthread_cond_signal((pthread_cond_t *)c) == 0 ? thrd_success : thrd_error;
}

int cnd_broadcast(cnd_t *c)
{
    return pthread_cond_broadcast((pthread_cond_t *)c) == 0 ? thrd_success : thrd_error;
}

int cnd_wait(cnd_t *c, mtx_t *m)
{
    int rc = pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m);
    return rc == 0 ? thrd_success : thrd_error;
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
    int rc = pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts);
    return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

void call_once(once_flag *flag, void (*func)(void))
{
    pthread_once((pthread_once_t *)flag, func);
}
