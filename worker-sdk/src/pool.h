/*
 * pool.h - a fixed set of threads running tasks from a bounded queue (the
 * worker's job slots).
 */
#ifndef JC_SDK_POOL_H
#define JC_SDK_POOL_H

#include <stdint.h>

#include "jobcoord/jobcoord.h"

typedef void (*jc_task_fn)(void *arg);
typedef struct jc_pool jc_pool;

/* jc_pool_new makes a pool of n threads (0..1024) whose queue holds n tasks.
 * No thread runs until jc_pool_start. NULL when out of memory. */
jc_pool *jc_pool_new(uint32_t n);

/* jc_pool_start starts the threads. */
jc_err_t jc_pool_start(jc_pool *p);

/* jc_pool_submit queues fn(arg) for the next free thread;
 * JC_ERR_QUEUE_FULL when the queue is full, JC_ERR_STATE once stopping. */
jc_err_t jc_pool_submit(jc_pool *p, jc_task_fn fn, void *arg);

/* jc_pool_stop lets the threads finish the queued tasks, then joins them.
 * It waits for tasks that are running: they must return. Idempotent. */
void jc_pool_stop(jc_pool *p);

/* jc_pool_destroy stops and frees p. NULL allowed. */
void jc_pool_destroy(jc_pool *p);

#endif
