/*
 * proto_encode.c - the canonical encoder of signed payloads (PROTOCOL.md,
 * "Canonical encoding").
 *
 * Canonical means: map keys in the order of the spec's tables, optional
 * fields omitted when absent or equal to their default (never nil),
 * integers in their shortest form (msgpack_pack_uint64 / msgpack_pack_int64
 * choose it), str and bin in the smallest str/bin header. The test vectors
 * in schemas/vectors/ are this encoder's output, so any change here that
 * alters bytes is a protocol change.
 *
 * The message is validated first (jc_msg_validate, the decoder's own value
 * rules), so nothing is written that a receiver would reject.
 */
#include <string.h>

#include "jcproto/proto.h"

/* enc is a packer that remembers whether any write failed (out of memory),
 * so the writers below need no error plumbing. */
typedef struct enc {
    msgpack_packer pk;
    int failed;
} enc;

/* put_map writes a map header of n entries. */
static void put_map(enc *e, uint32_t n)
{
    if (msgpack_pack_map(&e->pk, n) != 0)
        e->failed = 1;
}

/* put_array writes an array header of n elements. */
static void put_array(enc *e, uint32_t n)
{
    if (msgpack_pack_array(&e->pk, n) != 0)
        e->failed = 1;
}

/* put_strn writes n bytes as a str. */
static void put_strn(enc *e, const void *p, size_t n)
{
    if (msgpack_pack_str(&e->pk, n) != 0)
        e->failed = 1;
    if (n > 0 && msgpack_pack_str_body(&e->pk, p, n) != 0)
        e->failed = 1;
}

/* put_key writes a map key. */
static void put_key(enc *e, const char *key)
{
    put_strn(e, key, strlen(key));
}

/* put_str writes a slice as a str. */
static void put_str(enc *e, jc_slice s)
{
    put_strn(e, s.p, s.n);
}

/* put_bin writes n bytes as a bin. */
static void put_bin(enc *e, const void *p, size_t n)
{
    if (msgpack_pack_bin(&e->pk, n) != 0)
        e->failed = 1;
    if (n > 0 && msgpack_pack_bin_body(&e->pk, p, n) != 0)
        e->failed = 1;
}

/* put_uint writes an unsigned integer in its shortest form. */
static void put_uint(enc *e, uint64_t v)
{
    if (msgpack_pack_uint64(&e->pk, v) != 0)
        e->failed = 1;
}

/* put_int writes a signed integer in its shortest form. */
static void put_int(enc *e, int64_t v)
{
    if (msgpack_pack_int64(&e->pk, v) != 0)
        e->failed = 1;
}

/* put_bool writes true or false. */
static void put_bool(enc *e, int v)
{
    if ((v ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk)) != 0)
        e->failed = 1;
}

/* put_kvs writes a str->str map. */
static void put_kvs(enc *e, const jc_kv *kv, uint32_t n)
{
    put_map(e, n);
    for (uint32_t i = 0; i < n; i++) {
        put_str(e, kv[i].key);
        put_str(e, kv[i].value);
    }
}

/* put_heartbeat writes a heartbeat body. */
static void put_heartbeat(enc *e, const jc_heartbeat *hb)
{
    put_map(e, 7u + (hb->has_config_version ? 1u : 0u) + (hb->draining ? 1u : 0u));
    put_key(e, "caps");
    put_array(e, hb->n_caps);
    for (uint32_t i = 0; i < hb->n_caps; i++)
        put_str(e, hb->caps[i]);
    put_key(e, "slots");
    put_uint(e, hb->slots);
    put_key(e, "running");
    put_array(e, hb->n_running);
    for (uint32_t i = 0; i < hb->n_running; i++) {
        put_array(e, 2);
        put_bin(e, hb->running[i].job, JC_ID_LEN);
        put_uint(e, hb->running[i].attempt);
    }
    put_key(e, "ver");
    put_str(e, hb->version);
    put_key(e, "host");
    put_str(e, hb->host);
    put_key(e, "up");
    put_uint(e, hb->uptime_s);
    put_key(e, "seq");
    put_uint(e, hb->seq);
    if (hb->has_config_version) {
        put_key(e, "cfgv");
        put_uint(e, hb->config_version);
    }
    if (hb->draining) {
        put_key(e, "drain");
        put_bool(e, 1);
    }
}

/* put_submit writes a job.submit body; prio 0 and att 3 are defaults. */
static void put_submit(enc *e, const jc_job_submit *s)
{
    put_map(e, 3u + (s->priority != 0) + (s->max_attempts != 3) + (s->has_run_after != 0) +
                   (s->has_timeout != 0) + (s->ikey.n > 0));
    put_key(e, "job");
    put_bin(e, s->job, JC_ID_LEN);
    put_key(e, "type");
    put_str(e, s->type);
    put_key(e, "payload");
    put_bin(e, s->payload.p, s->payload.n);
    if (s->priority != 0) {
        put_key(e, "prio");
        put_int(e, s->priority);
    }
    if (s->max_attempts != 3) {
        put_key(e, "att");
        put_uint(e, s->max_attempts);
    }
    if (s->has_run_after) {
        put_key(e, "after");
        put_uint(e, s->run_after_ms);
    }
    if (s->has_timeout) {
        put_key(e, "timeout");
        put_uint(e, s->timeout_ms);
    }
    if (s->ikey.n > 0) {
        put_key(e, "ikey");
        put_str(e, s->ikey);
    }
}

/* put_cancel writes a job.cancel body. */
static void put_cancel(enc *e, const jc_job_cancel *c)
{
    put_map(e, 1u + (c->reason.n > 0));
    put_key(e, "job");
    put_bin(e, c->job, JC_ID_LEN);
    if (c->reason.n > 0) {
        put_key(e, "reason");
        put_str(e, c->reason);
    }
}

/* put_event writes a job.event body. */
static void put_event(enc *e, const jc_job_event *ev)
{
    put_map(e, 3u + (ev->has_progress != 0) + (ev->text.n > 0) + (ev->stream.n > 0) +
                   (ev->result.n > 0) + (ev->retryable != 0) + (ev->has_command != 0));
    put_key(e, "job");
    put_bin(e, ev->job, JC_ID_LEN);
    put_key(e, "att");
    put_uint(e, ev->attempt);
    put_key(e, "kind");
    put_key(e, jc_job_event_kind_name(ev->kind));
    if (ev->has_progress) {
        put_key(e, "pct");
        put_uint(e, ev->progress);
    }
    if (ev->text.n > 0) {
        put_key(e, "text");
        put_str(e, ev->text);
    }
    if (ev->stream.n > 0) {
        put_key(e, "stream");
        put_str(e, ev->stream);
    }
    if (ev->result.n > 0) {
        put_key(e, "result");
        put_bin(e, ev->result.p, ev->result.n);
    }
    if (ev->retryable) {
        put_key(e, "retry");
        put_bool(e, 1);
    }
    if (ev->has_command) {
        put_key(e, "cmd");
        put_bin(e, ev->command, JC_ID_LEN);
    }
}

/* put_command writes a command body: the common fields, then those of its
 * kind. Fields of other kinds are ignored. */
static void put_command(enc *e, const jc_command *c)
{
    uint32_t n = 3;

    switch (c->kind) {
    case JC_CMD_ASSIGN: n += 5; break;
    case JC_CMD_CANCEL: n += 2u + (c->reason.n > 0); break;
    case JC_CMD_CONFIG: n += 2; break;
    default: break;
    }
    put_map(e, n);
    put_key(e, "cmd");
    put_bin(e, c->command, JC_ID_LEN);
    put_key(e, "kind");
    put_key(e, jc_command_kind_name(c->kind));
    put_key(e, "worker");
    put_str(e, c->worker);
    if (c->kind == JC_CMD_ASSIGN || c->kind == JC_CMD_CANCEL) {
        put_key(e, "job");
        put_bin(e, c->job, JC_ID_LEN);
        put_key(e, "att");
        put_uint(e, c->attempt);
    }
    if (c->kind == JC_CMD_ASSIGN) {
        put_key(e, "type");
        put_str(e, c->type);
        put_key(e, "payload");
        put_bin(e, c->payload.p, c->payload.n);
        put_key(e, "timeout");
        put_uint(e, c->timeout_ms);
    }
    if (c->kind == JC_CMD_CANCEL && c->reason.n > 0) {
        put_key(e, "reason");
        put_str(e, c->reason);
    }
    if (c->kind == JC_CMD_CONFIG) {
        put_key(e, "cfgv");
        put_uint(e, c->config_version);
        put_key(e, "settings");
        put_kvs(e, c->settings, c->n_settings);
    }
}

/* put_ack writes a command.ack body. */
static void put_ack(enc *e, const jc_command_ack *a)
{
    put_map(e, 2u + (a->error.n > 0));
    put_key(e, "cmd");
    put_bin(e, a->command, JC_ID_LEN);
    put_key(e, "ok");
    put_bool(e, a->ok);
    if (a->error.n > 0) {
        put_key(e, "err");
        put_str(e, a->error);
    }
}

/* put_update writes a job.update body. */
static void put_update(enc *e, const jc_job_update *u)
{
    put_map(e, 3u + (u->result.n > 0) + (u->error.n > 0) + (u->ikey.n > 0) + (u->reason.n > 0));
    put_key(e, "job");
    put_bin(e, u->job, JC_ID_LEN);
    put_key(e, "state");
    put_str(e, u->state);
    put_key(e, "att");
    put_uint(e, u->attempt);
    if (u->result.n > 0) {
        put_key(e, "result");
        put_bin(e, u->result.p, u->result.n);
    }
    if (u->error.n > 0) {
        put_key(e, "err");
        put_str(e, u->error);
    }
    if (u->ikey.n > 0) {
        put_key(e, "ikey");
        put_str(e, u->ikey);
    }
    if (u->reason.n > 0) { /* version 2 (jc_msg_validate refuses it in version 1) */
        put_key(e, "reason");
        put_str(e, u->reason);
    }
}

/* put_refusal writes a job.refusal body. */
static void put_refusal(enc *e, const jc_job_refusal *r)
{
    put_map(e, 4u + (r->text.n > 0));
    put_key(e, "job");
    put_bin(e, r->job, JC_ID_LEN);
    put_key(e, "req");
    put_bin(e, r->request, JC_ID_LEN);
    put_key(e, "of");
    put_str(e, r->of);
    put_key(e, "reason");
    put_str(e, r->reason);
    if (r->text.n > 0) {
        put_key(e, "text");
        put_str(e, r->text);
    }
}

/* put_wevent writes a worker.event body. */
static void put_wevent(enc *e, const jc_worker_event_body *w)
{
    put_map(e, 3u + (w->n_meta > 0));
    put_key(e, "level");
    put_str(e, w->level);
    put_key(e, "kind");
    put_str(e, w->kind);
    put_key(e, "text");
    put_str(e, w->text);
    if (w->n_meta > 0) {
        put_key(e, "meta");
        put_kvs(e, w->meta, w->n_meta);
    }
}

jc_err_t jc_msg_encode_signed(const jc_msg *m, msgpack_sbuffer *out, char *errstr,
                              size_t errstr_size)
{
    enc e = {.failed = 0};
    jc_err_t err = JC_OK;

    if (m == NULL || out == NULL) {
        jc_proto_errf(errstr, errstr_size, "jc_msg_encode_signed: NULL argument");
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    msgpack_sbuffer_clear(out);
    err = jc_msg_validate(m, errstr, errstr_size);
    if (err)
        goto out;
    msgpack_packer_init(&e.pk, out, msgpack_sbuffer_write);
    put_map(&e, 5);
    put_key(&e, "t");
    put_key(&e, jc_msg_type_name(m->type));
    put_key(&e, "id");
    put_bin(&e, m->id, JC_ID_LEN);
    put_key(&e, "ts");
    put_uint(&e, m->ts_ms);
    put_key(&e, "p");
    put_str(&e, m->principal);
    put_key(&e, "b");
    switch (m->type) {
    case JC_MSG_HEARTBEAT: put_heartbeat(&e, &m->u.hb); break;
    case JC_MSG_JOB_SUBMIT: put_submit(&e, &m->u.submit); break;
    case JC_MSG_JOB_CANCEL: put_cancel(&e, &m->u.cancel); break;
    case JC_MSG_JOB_EVENT: put_event(&e, &m->u.event); break;
    case JC_MSG_COMMAND: put_command(&e, &m->u.cmd); break;
    case JC_MSG_COMMAND_ACK: put_ack(&e, &m->u.ack); break;
    case JC_MSG_JOB_UPDATE: put_update(&e, &m->u.update); break;
    case JC_MSG_WORKER_EVENT: put_wevent(&e, &m->u.wevent); break;
    case JC_MSG_JOB_REFUSAL: put_refusal(&e, &m->u.refusal); break;
    default: break; /* jc_msg_validate rejected it */
    }
    if (e.failed) {
        jc_proto_errf(errstr, errstr_size, "out of memory encoding %s", jc_msg_type_name(m->type));
        err = JC_ERR_NOMEM;
        goto out;
    }
out:
    if (err && out != NULL)
        msgpack_sbuffer_clear(out);
    return err;
}

jc_err_t jc_msg_seal(const jc_msg *m, const jc_slice *key_id, const uint8_t key[JC_KEY_LEN],
                     msgpack_sbuffer *out, char *errstr, size_t errstr_size)
{
    msgpack_sbuffer signed_buf;
    jc_err_t err;

    msgpack_sbuffer_init(&signed_buf);
    err = jc_msg_encode_signed(m, &signed_buf, errstr, errstr_size);
    if (err)
        goto out;
    err = jc_envelope_seal_v(m->version ? m->version : JC_PROTO_VERSION, &m->principal, key_id,
                             key, (const uint8_t *)signed_buf.data, signed_buf.size, out);
    if (err) {
        jc_proto_errf(errstr, errstr_size, "cannot seal %s: %s", jc_msg_type_name(m->type),
                      err == JC_ERR_TOO_LARGE ? "envelope over the size limit"
                      : err == JC_ERR_NOMEM   ? "out of memory"
                                              : "bad key id or key");
        goto out;
    }
out:
    msgpack_sbuffer_destroy(&signed_buf);
    return err;
}
