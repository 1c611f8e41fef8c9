/*
 * samples.c - one valid message per type and per event/command kind, full
 * and minimal, for the round-trip and hostile-input tests; and msg_equal,
 * which knows which struct fields each type uses.
 */
#include <stdio.h>
#include <string.h>

#include "samples.h"

const uint8_t sample_key[JC_KEY_LEN] = {
    0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0xa5};

static const uint8_t job_id[JC_ID_LEN] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
                                          5,    6,    7,    8,    9, 10, 11, 12};
static const uint8_t cmd_id[JC_ID_LEN] = {0xc0, 0xff, 0xee, 0, 1, 2,  3,  4,
                                          5,    6,    7,    8, 9, 10, 11, 12};
static const uint8_t payload[] = {0x00, 0x01, 0xfe, 0xff, 'j', 's', 'o', 'n'};

static jc_slice caps[3];
static jc_running_job running[2];
static jc_kv settings[2];
static jc_kv meta[1];

/* fill_common sets type, id, timestamp and principal. */
static void fill_common(jc_msg *m, jc_msg_type t, const char *principal)
{
    memset(m, 0, sizeof(*m));
    m->type = t;
    for (int i = 0; i < JC_ID_LEN; i++)
        m->id[i] = (uint8_t)(0x40 + i + (int)t);
    m->ts_ms = 1700000000123ull;
    m->principal = jc_slice_str(principal);
}

/* heartbeat fills a heartbeat, with every field or only required ones. */
static void heartbeat(jc_msg *m, int full)
{
    fill_common(m, JC_MSG_HEARTBEAT, "worker-1");
    m->u.hb.slots = full ? 4 : 0;
    m->u.hb.version = jc_slice_str(full ? "jobcoord-worker 0.1.0" : "");
    m->u.hb.host = jc_slice_str(full ? "node-17.example.net" : "");
    m->u.hb.uptime_s = full ? 86400 : 0;
    m->u.hb.seq = full ? 100000 : 1;
    if (!full)
        return;
    caps[0] = jc_slice_str("transcode.h264");
    caps[1] = jc_slice_str("whisper:small");
    caps[2] = jc_slice_str("a");
    m->u.hb.caps = caps;
    m->u.hb.n_caps = 3;
    memcpy(running[0].job, job_id, JC_ID_LEN);
    running[0].attempt = 1;
    memcpy(running[1].job, cmd_id, JC_ID_LEN);
    running[1].attempt = 100;
    m->u.hb.running = running;
    m->u.hb.n_running = 2;
    m->u.hb.has_config_version = 1;
    m->u.hb.config_version = 70000;
    m->u.hb.draining = 1;
}

/* submit fills a job.submit. */
static void submit(jc_msg *m, int full)
{
    fill_common(m, JC_MSG_JOB_SUBMIT, "client-7");
    memcpy(m->u.submit.job, job_id, JC_ID_LEN);
    m->u.submit.type = jc_slice_str("transcode.h264");
    m->u.submit.payload = (jc_slice){payload, sizeof(payload)};
    m->u.submit.max_attempts = 3;
    if (!full) {
        m->u.submit.payload = (jc_slice){NULL, 0};
        return;
    }
    m->u.submit.priority = -1000;
    m->u.submit.max_attempts = 100;
    m->u.submit.has_run_after = 1;
    m->u.submit.run_after_ms = 1700000060000ull;
    m->u.submit.has_timeout = 1;
    m->u.submit.timeout_ms = JC_MAX_TIMEOUT_MS;
    m->u.submit.ikey = jc_slice_str("order-1234/übersetzung");
}

/* event fills a job.event of the given kind with the fields it allows. */
static void event(jc_msg *m, jc_job_event_kind kind)
{
    fill_common(m, JC_MSG_JOB_EVENT, "worker-1");
    memcpy(m->u.event.job, job_id, JC_ID_LEN);
    m->u.event.attempt = 2;
    m->u.event.kind = kind;
    switch (kind) {
    case JC_EV_ACCEPTED:
        m->u.event.has_command = 1;
        memcpy(m->u.event.command, cmd_id, JC_ID_LEN);
        break;
    case JC_EV_PROGRESS:
        m->u.event.has_progress = 1;
        m->u.event.progress = 100;
        break;
    case JC_EV_LOG:
        m->u.event.text = jc_slice_str("frame 10/240\tok");
        m->u.event.stream = jc_slice_str("stderr");
        break;
    case JC_EV_SUCCEEDED: m->u.event.result = (jc_slice){payload, sizeof(payload)}; break;
    case JC_EV_FAILED:
        m->u.event.text = jc_slice_str("exit status 3");
        m->u.event.retryable = 1;
        break;
    default: break;
    }
}

/* command fills a command of the given kind. */
static void command(jc_msg *m, jc_command_kind kind)
{
    fill_common(m, JC_MSG_COMMAND, "worker-1");
    memcpy(m->u.cmd.command, cmd_id, JC_ID_LEN);
    m->u.cmd.kind = kind;
    m->u.cmd.worker = jc_slice_str("worker-1");
    if (kind == JC_CMD_ASSIGN || kind == JC_CMD_CANCEL) {
        memcpy(m->u.cmd.job, job_id, JC_ID_LEN);
        m->u.cmd.attempt = 1;
    }
    if (kind == JC_CMD_ASSIGN) {
        m->u.cmd.type = jc_slice_str("transcode.h264");
        m->u.cmd.payload = (jc_slice){payload, sizeof(payload)};
        m->u.cmd.timeout_ms = 600000;
    }
    if (kind == JC_CMD_CANCEL)
        m->u.cmd.reason = jc_slice_str("client asked");
    if (kind == JC_CMD_CONFIG) {
        settings[0] = (jc_kv){jc_slice_str("log.level"), jc_slice_str("debug")};
        settings[1] = (jc_kv){jc_slice_str("heartbeat.interval.ms"), jc_slice_str("")};
        m->u.cmd.config_version = 9;
        m->u.cmd.settings = settings;
        m->u.cmd.n_settings = 2;
    }
}

/* other fills the remaining types. */
static void other(jc_msg *m, jc_msg_type t, int full)
{
    switch (t) {
    case JC_MSG_JOB_CANCEL:
        fill_common(m, t, "client-7");
        memcpy(m->u.cancel.job, job_id, JC_ID_LEN);
        if (full)
            m->u.cancel.reason = jc_slice_str("no longer needed");
        break;
    case JC_MSG_COMMAND_ACK:
        fill_common(m, t, "worker-1");
        memcpy(m->u.ack.command, cmd_id, JC_ID_LEN);
        m->u.ack.ok = !full;
        if (full)
            m->u.ack.error = jc_slice_str("unknown job");
        break;
    case JC_MSG_JOB_UPDATE:
        fill_common(m, t, "client-7");
        memcpy(m->u.update.job, job_id, JC_ID_LEN);
        m->u.update.state = jc_slice_str(full ? "succeeded" : "pending");
        m->u.update.attempt = full ? 1 : 0;
        if (full) {
            m->u.update.result = (jc_slice){payload, sizeof(payload)};
            m->u.update.error = jc_slice_str("none");
            m->u.update.ikey = jc_slice_str("order-1234");
        }
        break;
    case JC_MSG_WORKER_EVENT:
        fill_common(m, t, "worker-1");
        m->u.wevent.level = jc_slice_str(full ? "warn" : "info");
        m->u.wevent.kind = jc_slice_str("disk.low");
        m->u.wevent.text = jc_slice_str(full ? "free space 2%" : "");
        if (full) {
            meta[0] = (jc_kv){jc_slice_str("mount"), jc_slice_str("/data")};
            m->u.wevent.meta = meta;
            m->u.wevent.n_meta = 1;
        }
        break;
    case JC_MSG_JOB_REFUSAL:
        fill_common(m, t, "client-7");
        memcpy(m->u.refusal.job, job_id, JC_ID_LEN);
        memcpy(m->u.refusal.request, cmd_id, JC_ID_LEN);
        m->u.refusal.of = jc_slice_str(full ? "job.cancel" : "job.submit");
        m->u.refusal.reason = jc_slice_str(full ? "not_owner" : "disabled_principal");
        if (full)
            m->u.refusal.text = jc_slice_str("the job is not yours");
        break;
    default: break;
    }
}

static const struct {
    const char *name;
    int minimal;
} sample_info[] = {
    {"heartbeat.full", 0},     {"heartbeat.minimal", 1},   {"job.submit.full", 0},
    {"job.submit.minimal", 1}, {"job.cancel.full", 0},     {"job.cancel.minimal", 1},
    {"job.event.accepted", 0}, {"job.event.started", 1},   {"job.event.progress", 0},
    {"job.event.log", 0},      {"job.event.succeeded", 0}, {"job.event.failed", 0},
    {"job.event.canceled", 1}, {"command.assign", 1},      {"command.cancel", 0},
    {"command.drain", 1},      {"command.undrain", 1},     {"command.config", 1},
    {"command.ack.error", 0},  {"command.ack.ok", 1},      {"job.update.full", 0},
    {"job.update.minimal", 1}, {"worker.event.full", 0},   {"worker.event.minimal", 1},
    {"job.refusal.full", 0},   {"job.refusal.minimal", 1},
};

int sample_count(void)
{
    return (int)(sizeof(sample_info) / sizeof(sample_info[0]));
}

int sample_minimal(int i)
{
    return sample_info[i].minimal;
}

const char *sample_get(int i, jc_msg *m)
{
    switch (i) {
    case 0: heartbeat(m, 1); break;
    case 1: heartbeat(m, 0); break;
    case 2: submit(m, 1); break;
    case 3: submit(m, 0); break;
    case 4: other(m, JC_MSG_JOB_CANCEL, 1); break;
    case 5: other(m, JC_MSG_JOB_CANCEL, 0); break;
    case 6: event(m, JC_EV_ACCEPTED); break;
    case 7: event(m, JC_EV_STARTED); break;
    case 8: event(m, JC_EV_PROGRESS); break;
    case 9: event(m, JC_EV_LOG); break;
    case 10: event(m, JC_EV_SUCCEEDED); break;
    case 11: event(m, JC_EV_FAILED); break;
    case 12: event(m, JC_EV_CANCELED); break;
    case 13: command(m, JC_CMD_ASSIGN); break;
    case 14: command(m, JC_CMD_CANCEL); break;
    case 15: command(m, JC_CMD_DRAIN); break;
    case 16: command(m, JC_CMD_UNDRAIN); break;
    case 17: command(m, JC_CMD_CONFIG); break;
    case 18: other(m, JC_MSG_COMMAND_ACK, 1); break;
    case 19: other(m, JC_MSG_COMMAND_ACK, 0); break;
    case 20: other(m, JC_MSG_JOB_UPDATE, 1); break;
    case 21: other(m, JC_MSG_JOB_UPDATE, 0); break;
    case 22: other(m, JC_MSG_WORKER_EVENT, 1); break;
    case 23: other(m, JC_MSG_WORKER_EVENT, 0); break;
    case 24: other(m, JC_MSG_JOB_REFUSAL, 1); break;
    default: other(m, JC_MSG_JOB_REFUSAL, 0); break;
    }
    return sample_info[i].name;
}

jc_err_t seal_sample(const jc_msg *m, msgpack_sbuffer *out)
{
    jc_slice kid = jc_slice_str(SAMPLE_KEY_ID);
    char errstr[256];
    jc_err_t err = jc_msg_seal(m, &kid, sample_key, out, errstr, sizeof(errstr));

    if (err)
        fprintf(stderr, "seal_sample: %s\n", errstr);
    return err;
}

/* cmp carries the state of one comparison. */
typedef struct cmp {
    int equal;
    char *why;
    size_t why_size;
} cmp;

/* differ records the first difference. */
static void differ(cmp *c, const char *field)
{
    if (c->equal && c->why_size > 0)
        snprintf(c->why, c->why_size, "field %s differs", field);
    c->equal = 0;
}

/* same_slice compares two slices by content. */
static void same_slice(cmp *c, jc_slice a, jc_slice b, const char *field)
{
    if (a.n != b.n || (a.n > 0 && memcmp(a.p, b.p, a.n) != 0))
        differ(c, field);
}

/* same_u64 compares two integers. */
static void same_u64(cmp *c, uint64_t a, uint64_t b, const char *field)
{
    if (a != b)
        differ(c, field);
}

/* same_id compares two 16-byte ids. */
static void same_id(cmp *c, const uint8_t *a, const uint8_t *b, const char *field)
{
    if (memcmp(a, b, JC_ID_LEN) != 0)
        differ(c, field);
}

/* same_kvs compares two str->str arrays in order. */
static void same_kvs(cmp *c, const jc_kv *a, uint32_t na, const jc_kv *b, uint32_t nb,
                     const char *field)
{
    same_u64(c, na, nb, field);
    for (uint32_t i = 0; i < na && i < nb; i++) {
        same_slice(c, a[i].key, b[i].key, field);
        same_slice(c, a[i].value, b[i].value, field);
    }
}

/* same_heartbeat compares heartbeat bodies. */
static void same_heartbeat(cmp *c, const jc_heartbeat *a, const jc_heartbeat *b)
{
    same_u64(c, a->n_caps, b->n_caps, "caps");
    for (uint32_t i = 0; i < a->n_caps && i < b->n_caps; i++)
        same_slice(c, a->caps[i], b->caps[i], "caps");
    same_u64(c, a->slots, b->slots, "slots");
    same_u64(c, a->n_running, b->n_running, "running");
    for (uint32_t i = 0; i < a->n_running && i < b->n_running; i++) {
        same_id(c, a->running[i].job, b->running[i].job, "running");
        same_u64(c, a->running[i].attempt, b->running[i].attempt, "running");
    }
    same_slice(c, a->version, b->version, "ver");
    same_slice(c, a->host, b->host, "host");
    same_u64(c, a->uptime_s, b->uptime_s, "up");
    same_u64(c, a->seq, b->seq, "seq");
    same_u64(c, a->has_config_version, b->has_config_version, "cfgv");
    if (a->has_config_version)
        same_u64(c, a->config_version, b->config_version, "cfgv");
    same_u64(c, a->draining, b->draining, "drain");
}

/* same_body compares the bodies of two messages of the same type. */
static void same_body(cmp *c, const jc_msg *x, const jc_msg *y)
{
    switch (x->type) {
    case JC_MSG_HEARTBEAT: same_heartbeat(c, &x->u.hb, &y->u.hb); break;
    case JC_MSG_JOB_SUBMIT: {
        const jc_job_submit *a = &x->u.submit, *b = &y->u.submit;
        same_id(c, a->job, b->job, "job");
        same_slice(c, a->type, b->type, "type");
        same_slice(c, a->payload, b->payload, "payload");
        same_u64(c, (uint64_t)(int64_t)a->priority, (uint64_t)(int64_t)b->priority, "prio");
        same_u64(c, a->max_attempts, b->max_attempts, "att");
        same_u64(c, a->has_run_after, b->has_run_after, "after");
        if (a->has_run_after)
            same_u64(c, a->run_after_ms, b->run_after_ms, "after");
        same_u64(c, a->has_timeout, b->has_timeout, "timeout");
        if (a->has_timeout)
            same_u64(c, a->timeout_ms, b->timeout_ms, "timeout");
        same_slice(c, a->ikey, b->ikey, "ikey");
        break;
    }
    case JC_MSG_JOB_CANCEL:
        same_id(c, x->u.cancel.job, y->u.cancel.job, "job");
        same_slice(c, x->u.cancel.reason, y->u.cancel.reason, "reason");
        break;
    case JC_MSG_JOB_EVENT: {
        const jc_job_event *a = &x->u.event, *b = &y->u.event;
        same_id(c, a->job, b->job, "job");
        same_u64(c, a->attempt, b->attempt, "att");
        same_u64(c, a->kind, b->kind, "kind");
        same_u64(c, a->has_progress, b->has_progress, "pct");
        if (a->has_progress)
            same_u64(c, a->progress, b->progress, "pct");
        same_slice(c, a->text, b->text, "text");
        same_slice(c, a->stream, b->stream, "stream");
        same_slice(c, a->result, b->result, "result");
        same_u64(c, a->retryable, b->retryable, "retry");
        same_u64(c, a->has_command, b->has_command, "cmd");
        if (a->has_command)
            same_id(c, a->command, b->command, "cmd");
        break;
    }
    case JC_MSG_COMMAND: {
        const jc_command *a = &x->u.cmd, *b = &y->u.cmd;
        same_id(c, a->command, b->command, "cmd");
        same_u64(c, a->kind, b->kind, "kind");
        same_slice(c, a->worker, b->worker, "worker");
        if (a->kind == JC_CMD_ASSIGN || a->kind == JC_CMD_CANCEL) {
            same_id(c, a->job, b->job, "job");
            same_u64(c, a->attempt, b->attempt, "att");
        }
        if (a->kind == JC_CMD_ASSIGN) {
            same_slice(c, a->type, b->type, "type");
            same_slice(c, a->payload, b->payload, "payload");
            same_u64(c, a->timeout_ms, b->timeout_ms, "timeout");
        }
        if (a->kind == JC_CMD_CANCEL)
            same_slice(c, a->reason, b->reason, "reason");
        if (a->kind == JC_CMD_CONFIG) {
            same_u64(c, a->config_version, b->config_version, "cfgv");
            same_kvs(c, a->settings, a->n_settings, b->settings, b->n_settings, "settings");
        }
        break;
    }
    case JC_MSG_COMMAND_ACK:
        same_id(c, x->u.ack.command, y->u.ack.command, "cmd");
        same_u64(c, x->u.ack.ok, y->u.ack.ok, "ok");
        same_slice(c, x->u.ack.error, y->u.ack.error, "err");
        break;
    case JC_MSG_JOB_UPDATE:
        same_id(c, x->u.update.job, y->u.update.job, "job");
        same_slice(c, x->u.update.state, y->u.update.state, "state");
        same_u64(c, x->u.update.attempt, y->u.update.attempt, "att");
        same_slice(c, x->u.update.result, y->u.update.result, "result");
        same_slice(c, x->u.update.error, y->u.update.error, "err");
        same_slice(c, x->u.update.ikey, y->u.update.ikey, "ikey");
        same_slice(c, x->u.update.reason, y->u.update.reason, "reason");
        break;
    case JC_MSG_WORKER_EVENT:
        same_slice(c, x->u.wevent.level, y->u.wevent.level, "level");
        same_slice(c, x->u.wevent.kind, y->u.wevent.kind, "kind");
        same_slice(c, x->u.wevent.text, y->u.wevent.text, "text");
        same_kvs(c, x->u.wevent.meta, x->u.wevent.n_meta, y->u.wevent.meta, y->u.wevent.n_meta,
                 "meta");
        break;
    case JC_MSG_JOB_REFUSAL:
        same_id(c, x->u.refusal.job, y->u.refusal.job, "job");
        same_id(c, x->u.refusal.request, y->u.refusal.request, "req");
        same_slice(c, x->u.refusal.of, y->u.refusal.of, "of");
        same_slice(c, x->u.refusal.reason, y->u.refusal.reason, "reason");
        same_slice(c, x->u.refusal.text, y->u.refusal.text, "text");
        break;
    default: differ(c, "t"); break;
    }
}

int msg_equal(const jc_msg *a, const jc_msg *b, char *why, size_t why_size)
{
    cmp c = {1, why, why_size};

    same_u64(&c, a->type, b->type, "t");
    same_id(&c, a->id, b->id, "id");
    same_u64(&c, a->ts_ms, b->ts_ms, "ts");
    same_slice(&c, a->principal, b->principal, "p");
    if (c.equal)
        same_body(&c, a, b);
    return c.equal;
}
