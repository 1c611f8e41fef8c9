/*
 * pool.c - worker threads for job handlers.
 *
 * The worker never queues more jobs than it has slots (jobs.c refuses an
 * assign when every slot is taken), so a queue of n tasks for n threads is
 * never the limit in practice; it is bounded all the same.
 */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct task {
    jc_task_fn fn;
    void *arg;
} task;

struct jc_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t *threads;
    uint32_t n, n_started;
    task *queue; /* ring of n tasks */
    uint32_t q_head, q_len;
    int stopping;
};

jc_pool *jc_pool_new(uint32_t n)
{
    jc_pool *p = calloc(1, sizeof *p);

    if (!p || n > 1024)
        goto fail;
    p->n = n;
    p->threads = calloc(n ? n : 1, sizeof *p->threads);
    p->queue = calloc(n ? n : 1, sizeof *p->queue);
    if (!p->threads || !p->queue)
        goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return p;
fail:
    if (p) {
        free(p->threads);
        free(p->queue);
        free(p);
    }
    return NULL;
}

// pool_main runs queued tasks until the pool stops and the queue is empty.
static void *pool_main(void *arg)
{
    jc_pool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        task t;
        while (p->q_len == 0 && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->q_len == 0)
            break; /* stopping, nothing left */
        t = p->queue[p->q_head];
        p->q_head = (p->q_head + 1) % p->n;
        p->q_len--;
        pthread_mutex_unlock(&p->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

jc_err_t jc_pool_start(jc_pool *p)
{
    jc_err_t err = JC_OK;

    pthread_mutex_lock(&p->mu);
    while (p->n_started < p->n) {
        if (pthread_create(&p->threads[p->n_started], NULL, pool_main, p) != 0) {
            err = JC_ERR_IO;
            break;
        }
        p->n_started++;
    }
    pthread_mutex_unlock(&p->mu);
    return err;
}

jc_err_t jc_pool_submit(jc_pool *p, jc_task_fn fn, void *arg)
{
    jc_err_t err = JC_OK;

    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->n_started == 0)
        err = JC_ERR_STATE;
    else if (p->q_len == p->n)
        err = JC_ERR_QUEUE_FULL;
    if (err)
        goto out;
    p->queue[(p->q_head + p->q_len) % p->n] = (task){fn, arg};
    p->q_len++;
    pthread_cond_signal(&p->cv);
out:
    pthread_mutex_unlock(&p->mu);
    return err;
}

void jc_pool_stop(jc_pool *p)
{
    uint32_t n;

    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    n = p->n_started;
    p->n_started = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < n; i++)
        pthread_join(p->threads[i], NULL);
}

void jc_pool_destroy(jc_pool *p)
{
    if (!p)
        return;
    jc_pool_stop(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->queue);
    free(p);
}
