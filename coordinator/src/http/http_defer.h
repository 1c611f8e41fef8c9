/*
 * http_defer.h - a bounded queue and its own worker threads, for the work
 * of HTTP requests that must not run on the HTTP thread pool (password
 * hashing: Argon2id takes 64 MiB and a good part of a second). While such a
 * request waits and runs, its connection is suspended (libmicrohttpd), so
 * the pool threads keep answering health, readiness, metrics and every
 * other route in milliseconds whatever the token endpoint is doing.
 *
 * The queue knows nothing of HTTP: http.c gives it opaque items and two
 * functions, run (do the work) and refuse (answer "busy" instead: the item
 * waited longer than max_wait_ms, or the queue is being stopped).
 */
#ifndef JC_HTTP_DEFER_H
#define JC_HTTP_DEFER_H

typedef struct jc_defer jc_defer;

typedef void (*jc_defer_fn)(void *item);

/* jc_defer_start starts threads workers for a queue of at most queue_max
 * waiting items. NULL when a thread cannot be started. */
jc_defer *jc_defer_start(int threads, int queue_max, int max_wait_ms, jc_defer_fn run,
                         jc_defer_fn refuse);

/* jc_defer_submit queues item, calling accepted(item) first under the
 * queue's lock (so that the item is prepared, e.g. its connection suspended,
 * before any worker can see it). Returns 0 queued; -1 when the queue is
 * full or stopping (accepted was not called). */
int jc_defer_submit(jc_defer *d, void *item, jc_defer_fn accepted);

/* jc_defer_stop refuses every item still queued, lets the running ones
 * finish, joins the threads and frees d. Submissions after it starts fail. */
void jc_defer_stop(jc_defer *d);

#endif
