/*
 * commands.h - a worker's command thread: reads the worker's partition of
 * the commands topic, verifies and dedupes each command, carries it out and
 * acknowledges it.
 */
#ifndef JC_SDK_COMMANDS_H
#define JC_SDK_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "jobs.h"
#include "send.h"

/* jc_cmd_hooks are the worker's side of drain, undrain and config. They run
 * on the command thread. */
typedef struct jc_cmd_hooks {
    void (*drain)(void *opaque, int draining);
    void (*config)(void *opaque, uint64_t version, const char *const *keys,
                   const char *const *values, size_t n);
    void *opaque;
} jc_cmd_hooks;

typedef struct jc_cmdloop jc_cmdloop;

/* jc_cmdloop_new creates the command consumer. sender, jobs and hooks must
 * outlive the loop. NULL with errstr on failure. */
jc_cmdloop *jc_cmdloop_new(const jc_conf_t *conf, const jc_sender *sender, jc_jobs *jobs,
                           const jc_cmd_hooks *hooks, char *errstr, size_t errstr_size);

/* jc_cmdloop_start starts the command thread. */
jc_err_t jc_cmdloop_start(jc_cmdloop *cl, char *errstr, size_t errstr_size);

/* jc_cmdloop_stop stops and joins the command thread. Idempotent. */
void jc_cmdloop_stop(jc_cmdloop *cl);

/* jc_cmdloop_dropped returns how many records were not acted upon: not
 * verifiable, for another worker, or duplicates. Any thread. */
uint64_t jc_cmdloop_dropped(const jc_cmdloop *cl);

/* jc_cmdloop_destroy stops the thread, closes the consumer (committing its
 * offset) and frees cl. NULL allowed. */
void jc_cmdloop_destroy(jc_cmdloop *cl);

#endif
