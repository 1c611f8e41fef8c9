/*
 * janitor.h - the timer thread: registers this coordinator instance, marks
 * silent workers offline, prunes old heartbeats. Owns its own PostgreSQL
 * connection.
 */
#ifndef JC_JANITOR_H
#define JC_JANITOR_H

#include "core/config.h"
#include "core/runtime.h"

typedef struct jc_janitor jc_janitor;

/* jc_janitor_start starts the thread; NULL with errstr on failure. */
jc_janitor *jc_janitor_start(const jc_config *cfg, jc_runtime *rt, char *errstr,
                             size_t errstr_size);

/* jc_janitor_stop waits for the thread (which watches *rt->stop) and frees. */
void jc_janitor_stop(jc_janitor *j);

#endif
