/*
 * http_defer.c - the bounded queue of deferred HTTP work and its worker
 * threads (see http_defer.h).
 *
 * A ring buffer of queue_max items with the time each was queued, one
 * mutex and one condition variable. Workers take the oldest item; one that
 * waited longer than max_wait_ms is refused rather than run, so that a
 * client never waits unboundedly behind a flood. Stopping refuses what is
 * still queued: every submitted item is handed to run or refuse exactly
 * once, which http.c relies on to resume every suspended connection.
 */
#include "http/http_defer.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct slot {
    void *item;
    struct timespec queued;
} slot;

struct jc_defer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *ring;
    int cap, head, count;
    int stopping;
    int max_wait_ms;
    jc_defer_fn run, refuse;
    pthread_t *threads;
    int nthreads;
};

static long waited_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *worker(void *arg)
{
    jc_defer *d = arg;

    pthread_mutex_lock(&d->mu);
    for (;;) {
        slot s;
        int late;

        while (d->count == 0 && !d->stopping)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->count == 0)
            break; /* stopping, and nothing left */
        s = d->ring[d->head];
        d->head = (d->head + 1) % d->cap;
        d->count--;
        late = d->stopping || waited_ms(&s.queued) > d->max_wait_ms;
        pthread_mutex_unlock(&d->mu);
        (late ? d->refuse : d->run)(s.item);
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

jc_defer *jc_defer_start(int threads, int queue_max, int max_wait_ms, jc_defer_fn run,
                         jc_defer_fn refuse)
{
    jc_defer *d = calloc(1, sizeof *d);

    if (!d)
        return NULL;
    d->cap = queue_max > 0 ? queue_max : 1;
    d->ring = calloc((size_t)d->cap, sizeof *d->ring);
    d->threads = calloc((size_t)threads, sizeof *d->threads);
    if (!d->ring || !d->threads) {
        free(d->ring);
        free(d->threads);
        free(d);
        return NULL;
    }
    d->max_wait_ms = max_wait_ms;
    d->run = run;
    d->refuse = refuse;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    for (; d->nthreads < threads; d->nthreads++) {
        if (pthread_create(&d->threads[d->nthreads], NULL, worker, d) != 0) {
            jc_defer_stop(d);
            return NULL;
        }
    }
    return d;
}

int jc_defer_submit(jc_defer *d, void *item, jc_defer_fn accepted)
{
    int rc = -1;

    pthread_mutex_lock(&d->mu);
    if (!d->stopping && d->count < d->cap) {
        slot *s = &d->ring[(d->head + d->count) % d->cap];
        accepted(item);
        s->item = item;
        clock_gettime(CLOCK_MONOTONIC, &s->queued);
        d->count++;
        pthread_cond_signal(&d->cv);
        rc = 0;
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

void jc_defer_stop(jc_defer *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    /* no worker started (start failed): nobody drained the queue */
    while (d->count > 0) {
        slot s = d->ring[d->head];
        d->head = (d->head + 1) % d->cap;
        d->count--;
        d->refuse(s.item);
    }
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d->ring);
    free(d->threads);
    free(d);
}
