/*
 * commands.c - the worker's command thread.
 *
 * The coordinator signs each command with the worker's own key and keys it
 * by the worker's id; the worker reads only the partition its id hashes to
 * (inbox.c). A record is acted upon only if its envelope names this worker,
 * its MAC verifies with this worker's key, it decodes as a `command` whose
 * "worker" is this worker, and its command id is not among the last
 * DEDUPE_IDS seen: the coordinator re-sends unacknowledged commands with
 * the same id, and Kafka delivers at least once. Everything else is
 * counted and dropped, never acted on.
 *
 * The partition is read from its end at the time the process found it:
 * what was sent before the process started is never acted on, and what is
 * still current reaches it again when the coordinator re-sends it.
 *
 * Every command gets one `command.ack`, except an assign the worker runs:
 * the job's first event carries the command id instead (jobs.c). This
 * thread also runs cancel callbacks and the config callback, so a slow
 * callback delays the commands behind it.
 *
 * The partition count is looked up again every REFRESH_MS: if partitions
 * were added, the worker's partition moves, and the loop follows it.
 */
#include "commands.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idset.h"
#include "inbox.h"
#include "jcproto/topics.h"

#define DEDUPE_IDS 4096
#define POLL_MS 100
#define METADATA_TIMEOUT_MS 500
#define RETRY_MS 1000    /* next partition lookup after a failed one */
#define REFRESH_MS 30000 /* next partition lookup after a good one */

struct jc_cmdloop {
    const jc_sender *sender;
    jc_jobs *jobs;
    jc_cmd_hooks hooks;
    char acks_topic[256];
    jc_inbox *inbox;
    jc_idset *seen;
    pthread_t thread;
    int started;
    atomic_int stopping;
    atomic_uint_fast64_t dropped;
};

// mono_ms returns a monotonic clock in milliseconds.
static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

jc_cmdloop *jc_cmdloop_new(const jc_conf_t *conf, const jc_sender *sender, jc_jobs *jobs,
                           const jc_cmd_hooks *hooks, char *errstr, size_t errstr_size)
{
    jc_cmdloop *cl = calloc(1, sizeof *cl);
    char topic[256];

    if (!cl) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    cl->sender = sender;
    cl->jobs = jobs;
    cl->hooks = *hooks;
    jc_sdk_topic(conf, JC_TOPIC_COMMAND_ACKS, cl->acks_topic, sizeof cl->acks_topic);
    jc_sdk_topic(conf, JC_TOPIC_COMMANDS, topic, sizeof topic);
    cl->seen = jc_idset_new(DEDUPE_IDS);
    if (!cl->seen) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    /* From the end of the partition when the process starts, never from a
     * committed offset: commands sent before this process started are not
     * current for it (a reused worker id must not run an old process's
     * assigns); the coordinator re-sends, with the same command id, every
     * command still current and unacknowledged (PROTOCOL.md 15.3). */
    cl->inbox = jc_inbox_new(conf, sender->id, topic, JC_INBOX_FROM_END, "jobcoord-worker-",
                             errstr, errstr_size);
    if (!cl->inbox)
        goto fail;
    return cl;
fail:
    jc_cmdloop_destroy(cl);
    return NULL;
}

// send_ack acknowledges command cmd.
static void send_ack(jc_cmdloop *cl, const uint8_t cmd[JC_ID_LEN], int ok, const char *why)
{
    jc_msg m;
    char errstr[256];
    const char *worker = cl->sender->id->principal;

    memset(&m, 0, sizeof m);
    m.type = JC_MSG_COMMAND_ACK;
    memcpy(m.u.ack.command, cmd, JC_ID_LEN);
    m.u.ack.ok = ok;
    m.u.ack.error = jc_slice_str(ok ? NULL : why);
    jc_send(cl->sender, cl->acks_topic, worker, strlen(worker), &m, NULL, errstr, sizeof errstr);
}

// apply_config hands a config command's settings to the worker as
// NUL-terminated strings. 0, or -1 when out of memory.
static int apply_config(jc_cmdloop *cl, const jc_command *c)
{
    size_t bytes = 2 * (size_t)c->n_settings * sizeof(char *), used;
    char **keys, **values, *text;

    for (uint32_t i = 0; i < c->n_settings; i++)
        bytes += (size_t)c->settings[i].key.n + c->settings[i].value.n + 2;
    keys = malloc(bytes ? bytes : 1);
    if (!keys)
        return -1;
    values = keys + c->n_settings;
    text = (char *)(values + c->n_settings);
    used = 0;
    for (uint32_t i = 0; i < c->n_settings; i++) {
        keys[i] = text + used;
        memcpy(keys[i], c->settings[i].key.p, c->settings[i].key.n);
        keys[i][c->settings[i].key.n] = '\0';
        used += (size_t)c->settings[i].key.n + 1;
        values[i] = text + used;
        if (c->settings[i].value.n)
            memcpy(values[i], c->settings[i].value.p, c->settings[i].value.n);
        values[i][c->settings[i].value.n] = '\0';
        used += (size_t)c->settings[i].value.n + 1;
    }
    cl->hooks.config(cl->hooks.opaque, c->config_version, (const char *const *)keys,
                     (const char *const *)values, c->n_settings);
    free(keys);
    return 0;
}

// dispatch carries out one verified, new command and acknowledges it.
static void dispatch(jc_cmdloop *cl, const jc_command *c)
{
    char why[256] = "";

    switch (c->kind) {
    case JC_CMD_ASSIGN:
        switch (jc_jobs_assign(cl->jobs, c, why, sizeof why)) {
        case JC_ASSIGN_ACCEPTED: break; /* acknowledged by the job's first event */
        case JC_ASSIGN_RUNNING: send_ack(cl, c->command, 1, NULL); break;
        case JC_ASSIGN_REFUSED: send_ack(cl, c->command, 0, why); break;
        }
        break;
    case JC_CMD_CANCEL:
        jc_jobs_cancel(cl->jobs, c->job, c->attempt); /* not running: nothing to do */
        send_ack(cl, c->command, 1, NULL);
        break;
    case JC_CMD_DRAIN:
    case JC_CMD_UNDRAIN:
        cl->hooks.drain(cl->hooks.opaque, c->kind == JC_CMD_DRAIN);
        send_ack(cl, c->command, 1, NULL);
        break;
    case JC_CMD_CONFIG:
        if (apply_config(cl, c) == 0)
            send_ack(cl, c->command, 1, NULL);
        else
            send_ack(cl, c->command, 0, "out of memory");
        break;
    default: break; /* the decoder accepts no other kind */
    }
}

// handle_record verifies one record of the commands partition and, if it
// is a new command for this worker, carries it out.
static void handle_record(jc_cmdloop *cl, const rd_kafka_message_t *rec)
{
    jc_msg m;
    char errstr[256];

    if (jc_inbox_open(cl->sender->id, rec, JC_MSG_COMMAND, &m, errstr, sizeof errstr) != JC_OK) {
        atomic_fetch_add(&cl->dropped, 1);
        return;
    }
    /* the decoder already insists that "worker" equals the signed "p" */
    if (!jc_slice_eq(m.u.cmd.worker, cl->sender->id->principal)) {
        atomic_fetch_add(&cl->dropped, 1);
        goto out;
    }
    if (!jc_idset_add(cl->seen, m.u.cmd.command)) {
        /* a re-sent command: the coordinator has not seen our answer (it
         * may have been lost), so answer again, without acting twice */
        atomic_fetch_add(&cl->dropped, 1);
        send_ack(cl, m.u.cmd.command, 1, NULL);
        goto out;
    }
    dispatch(cl, &m.u.cmd);
out:
    jc_msg_release(&m);
}

// cmd_main is the command thread: keep the right partition assigned, read
// it, act.
static void *cmd_main(void *arg)
{
    jc_cmdloop *cl = arg;
    uint64_t next_lookup = 0;
    char errstr[256];

    while (!atomic_load(&cl->stopping)) {
        rd_kafka_message_t *rec;
        uint64_t now = mono_ms();
        if (now >= next_lookup) {
            jc_err_t err = jc_inbox_assign(cl->inbox, METADATA_TIMEOUT_MS, errstr, sizeof errstr);
            next_lookup = now + (err ? RETRY_MS : REFRESH_MS);
        }
        rec = jc_inbox_poll(cl->inbox, POLL_MS);
        if (!rec)
            continue;
        handle_record(cl, rec);
        rd_kafka_message_destroy(rec);
    }
    return NULL;
}

jc_err_t jc_cmdloop_start(jc_cmdloop *cl, char *errstr, size_t errstr_size)
{
    if (cl->started) {
        snprintf(errstr, errstr_size, "command thread already started");
        return JC_ERR_STATE;
    }
    if (pthread_create(&cl->thread, NULL, cmd_main, cl) != 0) {
        snprintf(errstr, errstr_size, "cannot start the command thread");
        return JC_ERR_IO;
    }
    cl->started = 1;
    return JC_OK;
}

void jc_cmdloop_stop(jc_cmdloop *cl)
{
    if (!cl->started)
        return;
    atomic_store(&cl->stopping, 1);
    pthread_join(cl->thread, NULL);
    cl->started = 0;
}

uint64_t jc_cmdloop_dropped(const jc_cmdloop *cl)
{
    return atomic_load(&((jc_cmdloop *)cl)->dropped);
}

void jc_cmdloop_destroy(jc_cmdloop *cl)
{
    if (!cl)
        return;
    jc_cmdloop_stop(cl);
    jc_inbox_destroy(cl->inbox);
    jc_idset_destroy(cl->seen);
    free(cl);
}
