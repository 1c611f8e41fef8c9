/*
 * proto_validate.c - the value rules of every message (PROTOCOL.md, the
 * field tables): ranges, lengths, counts, the name charset, UTF-8, enums and
 * the per-kind "only with" rules.
 *
 * Both directions use this one function: jc_msg_decode runs it on what it
 * read, and jc_msg_encode_signed runs it before writing, so an encoder can
 * never produce what a decoder rejects. The decoder itself only checks shape
 * (msgpack types, presence, unknown and repeated keys).
 *
 * Error codes: a length or count over its maximum is JC_ERR_TOO_LARGE; any
 * other bad value is JC_ERR_SCHEMA; a slice with a length but no pointer (a
 * caller bug, never produced by the decoder) is JC_ERR_INVALID_ARG.
 */
#include <string.h>

#include "jcproto/proto.h"

/* vctx carries what is being checked, for error texts. */
typedef struct vctx {
    const char *what;
    char *errstr;
    size_t errstr_size;
} vctx;

static const char *const update_states[] = {"pending", "assigned",  "running",  "succeeded",
                                            "failed",  "canceling", "canceled", NULL};
static const char *const refused_types[] = {"job.submit", "job.cancel", NULL};
static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const streams[] = {"stdout", "stderr", NULL};

/* slice_ok rejects a slice that has a length but no bytes. */
static jc_err_t slice_ok(vctx *v, jc_slice s, const char *field)
{
    if (s.n > 0 && s.p == NULL) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' has a length but no data", v->what,
                      field);
        return JC_ERR_INVALID_ARG;
    }
    return JC_OK;
}

/* check_bytes checks an opaque bin field against its maximum length. */
static jc_err_t check_bytes(vctx *v, jc_slice s, const char *field, size_t max)
{
    jc_err_t err = slice_ok(v, s, field);

    if (err)
        goto out;
    if (s.n > max) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' is %u bytes, over %zu", v->what,
                      field, (unsigned)s.n, max);
        err = JC_ERR_TOO_LARGE;
    }
out:
    return err;
}

/* check_text checks a str field: min..max bytes of UTF-8. */
static jc_err_t check_text(vctx *v, jc_slice s, const char *field, size_t min, size_t max)
{
    jc_err_t err = check_bytes(v, s, field, max);

    if (err)
        goto out;
    if (s.n < min) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' is empty", v->what, field);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (!jc_utf8_valid(s.p, s.n)) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' is not valid UTF-8", v->what,
                      field);
        err = JC_ERR_SCHEMA;
    }
out:
    return err;
}

/* check_printable checks a str field of 0..max printable ASCII bytes. */
static jc_err_t check_printable(vctx *v, jc_slice s, const char *field, size_t max)
{
    jc_err_t err = check_bytes(v, s, field, max);

    if (err)
        goto out;
    for (uint32_t i = 0; i < s.n; i++) {
        if (s.p[i] < 0x20 || s.p[i] > 0x7e) {
            jc_proto_errf(v->errstr, v->errstr_size,
                          "%s: field '%s' has a byte that is not printable ASCII", v->what, field);
            err = JC_ERR_SCHEMA;
            goto out;
        }
    }
out:
    return err;
}

/* check_name checks a name: 1..max bytes of [A-Za-z0-9._:@-]. */
static jc_err_t check_name(vctx *v, jc_slice s, const char *field, size_t max)
{
    jc_err_t err = check_bytes(v, s, field, max);

    if (err)
        goto out;
    if (!jc_name_valid(s.p, s.n, max)) {
        jc_proto_errf(v->errstr, v->errstr_size,
                      "%s: field '%s' must be 1..%zu bytes of [A-Za-z0-9._:@-]", v->what, field,
                      max);
        err = JC_ERR_SCHEMA;
    }
out:
    return err;
}

/* check_range checks lo <= val <= hi. */
static jc_err_t check_range(vctx *v, uint64_t val, const char *field, uint64_t lo, uint64_t hi)
{
    if (val < lo || val > hi) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' is %llu, outside %llu..%llu",
                      v->what, field, (unsigned long long)val, (unsigned long long)lo,
                      (unsigned long long)hi);
        return JC_ERR_SCHEMA;
    }
    return JC_OK;
}

/* check_enum checks that s is one of the NULL-terminated names. */
static jc_err_t check_enum(vctx *v, jc_slice s, const char *field, const char *const *names)
{
    jc_err_t err = slice_ok(v, s, field);

    if (err)
        goto out;
    for (size_t i = 0; names[i] != NULL; i++) {
        if (jc_slice_eq(s, names[i]))
            goto out;
    }
    jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' has an unknown value", v->what, field);
    err = JC_ERR_SCHEMA;
out:
    return err;
}

/* only_with rejects a field that is set when the kind does not allow it. */
static jc_err_t only_with(vctx *v, int is_set, int allowed, const char *field, const char *kind)
{
    if (is_set && !allowed) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' is only allowed with kind %s",
                      v->what, field, kind);
        return JC_ERR_SCHEMA;
    }
    return JC_OK;
}

/* check_kvs checks a str->str map: count, key names, value lengths, and
 * that no key repeats. */
static jc_err_t check_kvs(vctx *v, const jc_kv *kv, uint32_t n, const char *field)
{
    jc_err_t err = JC_OK;

    if (n > JC_MAX_SETTINGS) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' has %u entries, over %d", v->what,
                      field, (unsigned)n, JC_MAX_SETTINGS);
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
    if (n > 0 && kv == NULL) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' has a count but no entries",
                      v->what, field);
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        err = check_name(v, kv[i].key, field, JC_MAX_NAME_LEN);
        if (err)
            goto out;
        err = check_text(v, kv[i].value, field, 0, JC_MAX_SETTING_LEN);
        if (err)
            goto out;
        for (uint32_t j = 0; j < i; j++) {
            if (kv[j].key.n == kv[i].key.n && memcmp(kv[j].key.p, kv[i].key.p, kv[i].key.n) == 0) {
                jc_proto_errf(v->errstr, v->errstr_size, "%s: field '%s' repeats key '%.*s'",
                              v->what, field, (int)kv[i].key.n, (const char *)kv[i].key.p);
                err = JC_ERR_SCHEMA;
                goto out;
            }
        }
    }
out:
    return err;
}

/* validate_heartbeat checks a heartbeat body. */
static jc_err_t validate_heartbeat(vctx *v, const jc_heartbeat *hb)
{
    jc_err_t err = JC_OK;

    if (hb->n_caps > JC_MAX_CAPS || hb->n_running > JC_MAX_RUNNING) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: %u caps / %u running, over %d / %d", v->what,
                      (unsigned)hb->n_caps, (unsigned)hb->n_running, JC_MAX_CAPS, JC_MAX_RUNNING);
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
    if ((hb->n_caps > 0 && hb->caps == NULL) || (hb->n_running > 0 && hb->running == NULL)) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: an array has a count but no entries",
                      v->what);
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    for (uint32_t i = 0; i < hb->n_caps; i++) {
        err = check_name(v, hb->caps[i], "caps", JC_MAX_NAME_LEN);
        if (err)
            goto out;
    }
    for (uint32_t i = 0; i < hb->n_running; i++) {
        err = check_range(v, hb->running[i].attempt, "running", 1, JC_MAX_ATTEMPTS);
        if (err)
            goto out;
    }
    err = check_range(v, hb->slots, "slots", 0, JC_MAX_SLOTS);
    if (!err)
        err = check_range(v, hb->uptime_s, "up", 0, JC_MAX_UINT);
    if (!err)
        err = check_range(v, hb->seq, "seq", 0, JC_MAX_UINT);
    if (!err)
        err = check_range(v, hb->config_version, "cfgv", 0, JC_MAX_UINT);
    if (!err)
        err = check_printable(v, hb->version, "ver", JC_MAX_VERSION_LEN);
    if (!err)
        err = check_text(v, hb->host, "host", 0, JC_MAX_HOST_LEN);
out:
    return err;
}

/* validate_submit checks a job.submit body. */
static jc_err_t validate_submit(vctx *v, const jc_job_submit *s)
{
    jc_err_t err = check_name(v, s->type, "type", JC_MAX_NAME_LEN);

    if (!err)
        err = check_bytes(v, s->payload, "payload", JC_MAX_PAYLOAD_BYTES);
    if (!err && (s->priority < -1000 || s->priority > 1000)) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field 'prio' is %d, outside -1000..1000",
                      v->what, (int)s->priority);
        err = JC_ERR_SCHEMA;
    }
    if (!err)
        err = check_range(v, s->max_attempts, "att", 1, JC_MAX_ATTEMPTS);
    if (!err && s->has_timeout)
        err = check_range(v, s->timeout_ms, "timeout", 1, JC_MAX_TIMEOUT_MS);
    if (!err && s->has_run_after)
        err = check_range(v, s->run_after_ms, "after", 0, JC_MAX_UINT);
    if (!err && s->ikey.n > 0)
        err = check_text(v, s->ikey, "ikey", 1, JC_MAX_IKEY_LEN);
    return err;
}

/* validate_event checks a job.event body, including which optional fields
 * each kind allows. */
static jc_err_t validate_event(vctx *v, const jc_job_event *e)
{
    const char *kind = jc_job_event_kind_name(e->kind);
    jc_err_t err = JC_OK;

    if (kind == NULL) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field 'kind' has an unknown value", v->what);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    err = check_range(v, e->attempt, "att", 1, JC_MAX_ATTEMPTS);
    if (err)
        goto out;
    if (e->kind == JC_EV_PROGRESS && !e->has_progress) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: kind progress needs field 'pct'", v->what);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    err = only_with(v, e->has_progress, e->kind == JC_EV_PROGRESS, "pct", "progress");
    if (!err && e->has_progress)
        err = check_range(v, e->progress, "pct", 0, 100);
    if (!err)
        err = check_text(v, e->text, "text", 0, JC_MAX_TEXT_LEN);
    if (!err)
        err = only_with(v, e->stream.n > 0, e->kind == JC_EV_LOG, "stream", "log");
    if (!err && e->stream.n > 0)
        err = check_enum(v, e->stream, "stream", streams);
    if (!err)
        err = only_with(v, e->result.n > 0, e->kind == JC_EV_SUCCEEDED, "result", "succeeded");
    if (!err)
        err = check_bytes(v, e->result, "result", JC_MAX_PAYLOAD_BYTES);
    if (!err)
        err = only_with(v, e->retryable != 0, e->kind == JC_EV_FAILED, "retry", "failed");
out:
    return err;
}

/* validate_command checks a command body for its kind. */
static jc_err_t validate_command(vctx *v, const jc_msg *m)
{
    const jc_command *c = &m->u.cmd;
    jc_err_t err = check_name(v, c->worker, "worker", JC_MAX_PRINCIPAL_LEN);

    if (err)
        goto out;
    if (c->worker.n != m->principal.n || memcmp(c->worker.p, m->principal.p, c->worker.n) != 0) {
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field 'worker' differs from 'p'", v->what);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    switch (c->kind) {
    case JC_CMD_ASSIGN:
        err = check_range(v, c->attempt, "att", 1, JC_MAX_ATTEMPTS);
        if (!err)
            err = check_name(v, c->type, "type", JC_MAX_NAME_LEN);
        if (!err)
            err = check_bytes(v, c->payload, "payload", JC_MAX_PAYLOAD_BYTES);
        if (!err)
            err = check_range(v, c->timeout_ms, "timeout", 1, JC_MAX_TIMEOUT_MS);
        break;
    case JC_CMD_CANCEL:
        err = check_range(v, c->attempt, "att", 1, JC_MAX_ATTEMPTS);
        if (!err)
            err = check_text(v, c->reason, "reason", 0, JC_MAX_TEXT_LEN);
        break;
    case JC_CMD_DRAIN:
    case JC_CMD_UNDRAIN: break;
    case JC_CMD_CONFIG:
        err = check_range(v, c->config_version, "cfgv", 0, JC_MAX_UINT);
        if (!err)
            err = check_kvs(v, c->settings, c->n_settings, "settings");
        break;
    default:
        jc_proto_errf(v->errstr, v->errstr_size, "%s: field 'kind' has an unknown value", v->what);
        err = JC_ERR_SCHEMA;
        break;
    }
out:
    return err;
}

/* validate_update checks a job.update body of version `version`: "reason"
 * exists from version 2 on, and only with state canceling or canceled. */
static jc_err_t validate_update(vctx *v, uint32_t version, const jc_job_update *u)
{
    jc_err_t err = check_enum(v, u->state, "state", update_states);

    if (!err && u->reason.n > 0 && version < 2) {
        jc_proto_errf(v->errstr, v->errstr_size,
                      "%s: field 'reason' does not exist in protocol version 1", v->what);
        err = JC_ERR_SCHEMA;
    }
    if (!err && u->reason.n > 0 && !jc_slice_eq(u->state, "canceling") &&
        !jc_slice_eq(u->state, "canceled")) {
        jc_proto_errf(v->errstr, v->errstr_size,
                      "%s: field 'reason' is only allowed with state canceling or canceled",
                      v->what);
        err = JC_ERR_SCHEMA;
    }
    if (!err)
        err = check_text(v, u->reason, "reason", 0, JC_MAX_TEXT_LEN);

    if (!err)
        err = check_range(v, u->attempt, "att", 0, JC_MAX_ATTEMPTS);
    if (!err)
        err = check_bytes(v, u->result, "result", JC_MAX_PAYLOAD_BYTES);
    if (!err)
        err = check_text(v, u->error, "err", 0, JC_MAX_TEXT_LEN);
    if (!err)
        err = check_text(v, u->ikey, "ikey", 0, JC_MAX_IKEY_LEN);
    return err;
}

/* validate_refusal checks a job.refusal body. */
static jc_err_t validate_refusal(vctx *v, const jc_job_refusal *r)
{
    jc_err_t err = check_enum(v, r->of, "of", refused_types);

    if (!err)
        err = check_name(v, r->reason, "reason", JC_MAX_NAME_LEN);
    if (!err)
        err = check_text(v, r->text, "text", 0, JC_MAX_TEXT_LEN);
    return err;
}

/* validate_wevent checks a worker.event body. */
static jc_err_t validate_wevent(vctx *v, const jc_worker_event_body *w)
{
    jc_err_t err = check_enum(v, w->level, "level", levels);

    if (!err)
        err = check_name(v, w->kind, "kind", JC_MAX_NAME_LEN);
    if (!err)
        err = check_text(v, w->text, "text", 0, JC_MAX_TEXT_LEN);
    if (!err)
        err = check_kvs(v, w->meta, w->n_meta, "meta");
    return err;
}

jc_err_t jc_msg_validate(const jc_msg *m, char *errstr, size_t errstr_size)
{
    vctx v = {.what = jc_msg_type_name(m->type), .errstr = errstr, .errstr_size = errstr_size};
    jc_err_t err = JC_OK;

    if (v.what == NULL) {
        jc_proto_errf(errstr, errstr_size, "unknown message type %d", (int)m->type);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (m->version > JC_PROTO_VERSION_MAX) { /* 0 stands for version 1 */
        jc_proto_errf(errstr, errstr_size, "protocol version %u is not implemented",
                      (unsigned)m->version);
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    err = check_name(&v, m->principal, "p", JC_MAX_PRINCIPAL_LEN);
    if (!err)
        err = check_range(&v, m->ts_ms, "ts", 0, JC_MAX_UINT);
    if (err)
        goto out;
    switch (m->type) {
    case JC_MSG_HEARTBEAT: err = validate_heartbeat(&v, &m->u.hb); break;
    case JC_MSG_JOB_SUBMIT: err = validate_submit(&v, &m->u.submit); break;
    case JC_MSG_JOB_CANCEL:
        err = check_text(&v, m->u.cancel.reason, "reason", 0, JC_MAX_TEXT_LEN);
        break;
    case JC_MSG_JOB_EVENT: err = validate_event(&v, &m->u.event); break;
    case JC_MSG_COMMAND: err = validate_command(&v, m); break;
    case JC_MSG_COMMAND_ACK: err = check_text(&v, m->u.ack.error, "err", 0, JC_MAX_TEXT_LEN); break;
    case JC_MSG_JOB_UPDATE:
        err = validate_update(&v, m->version ? m->version : JC_PROTO_VERSION, &m->u.update);
        break;
    case JC_MSG_WORKER_EVENT: err = validate_wevent(&v, &m->u.wevent); break;
    case JC_MSG_JOB_REFUSAL: err = validate_refusal(&v, &m->u.refusal); break;
    default: break;
    }
out:
    return err;
}
