/*
 * proto_decode.c - decoding of signed payloads into jc_msg.
 *
 * Steps, each bounded: jc_guard pre-scans the signed bytes (so msgpack-c
 * never allocates more than the input justifies), msgpack_unpack builds the
 * object tree in the jc_msg's own zone, then each map is read strictly
 * against its field table: keys must be str, known and not repeated;
 * required fields present; each value of its msgpack type. Finally
 * jc_msg_validate checks the values (ranges, lengths, names), the same
 * function the encoder runs, so both directions agree by construction.
 *
 * Memory: msgpack_unpack (unlike the streaming msgpack_unpacker, which copies
 * into its own buffer) makes str and bin objects point into the input, so
 * every jc_slice of a decoded message points into env->signed_bytes, i.e.
 * the caller's buffer, which must outlive the jc_msg. Arrays (caps, running,
 * settings, meta) are allocated from the jc_msg's zone and freed by
 * jc_msg_release. msgpack_zone has no pointers into itself, so a decoded
 * jc_msg may be copied by value (once; release only one copy).
 */
#include <string.h>

#include "proto_read.h"

#define ZONE_CHUNK 2048

enum { HB_CAPS, HB_SLOTS, HB_RUNNING, HB_VER, HB_HOST, HB_UP, HB_SEQ, HB_CFGV, HB_DRAIN, HB__N };
static const char *const hb_fields[HB__N] = {"caps", "slots", "running", "ver",  "host",
                                             "up",   "seq",   "cfgv",    "drain"};

/* get_caps reads the heartbeat's capability list. */
static jc_err_t get_caps(jc_rd *d, const msgpack_object *o, jc_heartbeat *hb)
{
    int is_present;
    jc_err_t err = jc_rd_present(d, o, "caps", 1, &is_present);

    if (err)
        goto out;
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        err = jc_rd_wrong_type(d, "caps", "an array of str");
        goto out;
    }
    if (o->via.array.size > JC_MAX_CAPS) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: %u caps, over %d", d->what,
                      (unsigned)o->via.array.size, JC_MAX_CAPS);
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
    if (o->via.array.size == 0)
        goto out;
    hb->caps = msgpack_zone_malloc(d->zone, o->via.array.size * sizeof(jc_slice));
    if (hb->caps == NULL) {
        err = JC_ERR_NOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *c = &o->via.array.ptr[i];

        if (c->type != MSGPACK_OBJECT_STR) {
            err = jc_rd_wrong_type(d, "caps", "an array of str");
            goto out;
        }
        hb->caps[i] = (jc_slice){(const uint8_t *)c->via.str.ptr, c->via.str.size};
    }
    hb->n_caps = o->via.array.size;
out:
    return err;
}

/* get_running reads the heartbeat's [job id, attempt] pairs. */
static jc_err_t get_running(jc_rd *d, const msgpack_object *o, jc_heartbeat *hb)
{
    int is_present;
    jc_err_t err = jc_rd_present(d, o, "running", 1, &is_present);

    if (err)
        goto out;
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        err = jc_rd_wrong_type(d, "running", "an array");
        goto out;
    }
    if (o->via.array.size > JC_MAX_RUNNING) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: %u running jobs, over %d", d->what,
                      (unsigned)o->via.array.size, JC_MAX_RUNNING);
        err = JC_ERR_TOO_LARGE;
        goto out;
    }
    if (o->via.array.size == 0)
        goto out;
    hb->running = msgpack_zone_malloc(d->zone, o->via.array.size * sizeof(jc_running_job));
    if (hb->running == NULL) {
        err = JC_ERR_NOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];

        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2) {
            err = jc_rd_wrong_type(d, "running", "an array of [job id, attempt]");
            goto out;
        }
        err = jc_rd_id(d, &e->via.array.ptr[0], "running", 1, hb->running[i].job, NULL);
        if (!err)
            err = jc_rd_u32(d, &e->via.array.ptr[1], "running", 1, &hb->running[i].attempt, NULL);
        if (err)
            goto out;
    }
    hb->n_running = o->via.array.size;
out:
    return err;
}

/* decode_heartbeat reads a heartbeat body. */
static jc_err_t decode_heartbeat(jc_rd *d, const msgpack_object *b, jc_heartbeat *hb)
{
    const msgpack_object *v[HB__N];
    jc_err_t err = jc_rd_fields(d, b, hb_fields, HB__N, v);

    if (!err)
        err = get_caps(d, v[HB_CAPS], hb);
    if (!err)
        err = jc_rd_u32(d, v[HB_SLOTS], "slots", 1, &hb->slots, NULL);
    if (!err)
        err = get_running(d, v[HB_RUNNING], hb);
    if (!err)
        err = jc_rd_str(d, v[HB_VER], "ver", 1, &hb->version);
    if (!err)
        err = jc_rd_str(d, v[HB_HOST], "host", 1, &hb->host);
    if (!err)
        err = jc_rd_uint(d, v[HB_UP], "up", 1, UINT64_MAX, &hb->uptime_s, NULL);
    if (!err)
        err = jc_rd_uint(d, v[HB_SEQ], "seq", 1, UINT64_MAX, &hb->seq, NULL);
    if (!err)
        err = jc_rd_uint(d, v[HB_CFGV], "cfgv", 0, UINT64_MAX, &hb->config_version,
                         &hb->has_config_version);
    if (!err)
        err = jc_rd_bool(d, v[HB_DRAIN], "drain", 0, &hb->draining, NULL);
    return err;
}

enum { SU_JOB, SU_TYPE, SU_PAYLOAD, SU_PRIO, SU_ATT, SU_AFTER, SU_TIMEOUT, SU_IKEY, SU__N };
static const char *const submit_fields[SU__N] = {"job", "type",  "payload", "prio",
                                                 "att", "after", "timeout", "ikey"};

/* decode_submit reads a job.submit body and applies the defaults. */
static jc_err_t decode_submit(jc_rd *d, const msgpack_object *b, jc_job_submit *s)
{
    const msgpack_object *v[SU__N];
    jc_err_t err = jc_rd_fields(d, b, submit_fields, SU__N, v);

    s->max_attempts = 3;
    if (!err)
        err = jc_rd_id(d, v[SU_JOB], "job", 1, s->job, NULL);
    if (!err)
        err = jc_rd_str(d, v[SU_TYPE], "type", 1, &s->type);
    if (!err)
        err = jc_rd_bin(d, v[SU_PAYLOAD], "payload", 1, &s->payload);
    if (!err && v[SU_PRIO] != NULL) {
        const msgpack_object *o = v[SU_PRIO];

        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX)
            s->priority = (int32_t)o->via.u64;
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= INT32_MIN)
            s->priority = (int32_t)o->via.i64;
        else
            err = jc_rd_wrong_type(d, "prio", "an integer in -1000..1000");
    }
    if (!err)
        err = jc_rd_u32(d, v[SU_ATT], "att", 0, &s->max_attempts, NULL);
    if (!err)
        err =
            jc_rd_uint(d, v[SU_AFTER], "after", 0, UINT64_MAX, &s->run_after_ms, &s->has_run_after);
    if (!err)
        err = jc_rd_u32(d, v[SU_TIMEOUT], "timeout", 0, &s->timeout_ms, &s->has_timeout);
    if (!err)
        err = jc_rd_str(d, v[SU_IKEY], "ikey", 0, &s->ikey);
    return err;
}

enum { CA_JOB, CA_REASON, CA__N };
static const char *const cancel_fields[CA__N] = {"job", "reason"};

/* decode_cancel reads a job.cancel body. */
static jc_err_t decode_cancel(jc_rd *d, const msgpack_object *b, jc_job_cancel *c)
{
    const msgpack_object *v[CA__N];
    jc_err_t err = jc_rd_fields(d, b, cancel_fields, CA__N, v);

    if (!err)
        err = jc_rd_id(d, v[CA_JOB], "job", 1, c->job, NULL);
    if (!err)
        err = jc_rd_str(d, v[CA_REASON], "reason", 0, &c->reason);
    return err;
}

enum { EV_JOB, EV_ATT, EV_KIND, EV_PCT, EV_TEXT, EV_STREAM, EV_RESULT, EV_RETRY, EV_CMD, EV__N };
static const char *const event_fields[EV__N] = {"job",    "att",    "kind",  "pct", "text",
                                                "stream", "result", "retry", "cmd"};

/* decode_event reads a job.event body. */
static jc_err_t decode_event(jc_rd *d, const msgpack_object *b, jc_job_event *e)
{
    const msgpack_object *v[EV__N];
    jc_slice kind = {NULL, 0};
    jc_err_t err = jc_rd_fields(d, b, event_fields, EV__N, v);

    if (!err)
        err = jc_rd_id(d, v[EV_JOB], "job", 1, e->job, NULL);
    if (!err)
        err = jc_rd_u32(d, v[EV_ATT], "att", 1, &e->attempt, NULL);
    if (!err)
        err = jc_rd_str(d, v[EV_KIND], "kind", 1, &kind);
    if (err)
        goto out;
    e->kind = jc_job_event_kind_parse(kind.p, kind.n);
    if (e->kind == JC_EV_NONE) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: field 'kind' has an unknown value", d->what);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    /* "retry" is a bool whose absence equals false, so its "only with"
     * rule is about presence and is checked here, not by the validator. */
    if (v[EV_RETRY] != NULL && e->kind != JC_EV_FAILED) {
        jc_proto_errf(d->errstr, d->errstr_size,
                      "%s: field 'retry' is only allowed with kind failed", d->what);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    err = jc_rd_u32(d, v[EV_PCT], "pct", 0, &e->progress, &e->has_progress);
    if (!err)
        err = jc_rd_str(d, v[EV_TEXT], "text", 0, &e->text);
    if (!err)
        err = jc_rd_str(d, v[EV_STREAM], "stream", 0, &e->stream);
    if (!err)
        err = jc_rd_bin(d, v[EV_RESULT], "result", 0, &e->result);
    if (!err)
        err = jc_rd_bool(d, v[EV_RETRY], "retry", 0, &e->retryable, NULL);
    if (!err)
        err = jc_rd_id(d, v[EV_CMD], "cmd", 0, e->command, &e->has_command);
out:
    return err;
}

enum {
    CM_CMD,
    CM_KIND,
    CM_WORKER,
    CM_JOB,
    CM_ATT,
    CM_TYPE,
    CM_PAYLOAD,
    CM_TIMEOUT,
    CM_REASON,
    CM_CFGV,
    CM_SETTINGS,
    CM__N
};
static const char *const command_fields[CM__N] = {"cmd",    "kind", "worker",  "job",
                                                  "att",    "type", "payload", "timeout",
                                                  "reason", "cfgv", "settings"};

#define BIT(f) (1u << (f))
/* Per kind: which of the fields after "worker" are allowed, and required. */
static const struct {
    unsigned allowed, required;
} command_rules[JC_CMD__COUNT] = {
    [JC_CMD_ASSIGN] = {BIT(CM_JOB) | BIT(CM_ATT) | BIT(CM_TYPE) | BIT(CM_PAYLOAD) | BIT(CM_TIMEOUT),
                       BIT(CM_JOB) | BIT(CM_ATT) | BIT(CM_TYPE) | BIT(CM_PAYLOAD) |
                           BIT(CM_TIMEOUT)},
    [JC_CMD_CANCEL] = {BIT(CM_JOB) | BIT(CM_ATT) | BIT(CM_REASON), BIT(CM_JOB) | BIT(CM_ATT)},
    [JC_CMD_DRAIN] = {0, 0},
    [JC_CMD_UNDRAIN] = {0, 0},
    [JC_CMD_CONFIG] = {BIT(CM_CFGV) | BIT(CM_SETTINGS), BIT(CM_CFGV) | BIT(CM_SETTINGS)},
};

/* decode_command reads a command body: the common fields, then those its
 * kind allows; a field of another kind is rejected. */
static jc_err_t decode_command(jc_rd *d, const msgpack_object *b, jc_command *c)
{
    const msgpack_object *v[CM__N];
    jc_slice kind = {NULL, 0};
    unsigned allowed, req;
    jc_err_t err = jc_rd_fields(d, b, command_fields, CM__N, v);

    if (!err)
        err = jc_rd_id(d, v[CM_CMD], "cmd", 1, c->command, NULL);
    if (!err)
        err = jc_rd_str(d, v[CM_KIND], "kind", 1, &kind);
    if (!err)
        err = jc_rd_str(d, v[CM_WORKER], "worker", 1, &c->worker);
    if (err)
        goto out;
    c->kind = jc_command_kind_parse(kind.p, kind.n);
    if (c->kind == JC_CMD_NONE) {
        jc_proto_errf(d->errstr, d->errstr_size, "%s: field 'kind' has an unknown value", d->what);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    allowed = command_rules[c->kind].allowed;
    req = command_rules[c->kind].required;
    for (int f = CM_JOB; f < CM__N; f++) {
        if (v[f] != NULL && !(allowed & BIT(f))) {
            jc_proto_errf(d->errstr, d->errstr_size, "%s: field '%s' is not allowed with kind %s",
                          d->what, command_fields[f], jc_command_kind_name(c->kind));
            err = JC_ERR_SCHEMA;
            goto out;
        }
    }
    err = jc_rd_id(d, v[CM_JOB], "job", (req & BIT(CM_JOB)) != 0, c->job, NULL);
    if (!err)
        err = jc_rd_u32(d, v[CM_ATT], "att", (req & BIT(CM_ATT)) != 0, &c->attempt, NULL);
    if (!err)
        err = jc_rd_str(d, v[CM_TYPE], "type", (req & BIT(CM_TYPE)) != 0, &c->type);
    if (!err)
        err = jc_rd_bin(d, v[CM_PAYLOAD], "payload", (req & BIT(CM_PAYLOAD)) != 0, &c->payload);
    if (!err)
        err = jc_rd_u32(d, v[CM_TIMEOUT], "timeout", (req & BIT(CM_TIMEOUT)) != 0, &c->timeout_ms,
                        NULL);
    if (!err)
        err = jc_rd_str(d, v[CM_REASON], "reason", 0, &c->reason);
    if (!err)
        err = jc_rd_uint(d, v[CM_CFGV], "cfgv", (req & BIT(CM_CFGV)) != 0, UINT64_MAX,
                         &c->config_version, NULL);
    if (!err)
        err = jc_rd_kvs(d, v[CM_SETTINGS], "settings", (req & BIT(CM_SETTINGS)) != 0, &c->settings,
                        &c->n_settings);
out:
    return err;
}

enum { AK_CMD, AK_OK, AK_ERR, AK__N };
static const char *const ack_fields[AK__N] = {"cmd", "ok", "err"};

/* decode_ack reads a command.ack body. */
static jc_err_t decode_ack(jc_rd *d, const msgpack_object *b, jc_command_ack *a)
{
    const msgpack_object *v[AK__N];
    jc_err_t err = jc_rd_fields(d, b, ack_fields, AK__N, v);

    if (!err)
        err = jc_rd_id(d, v[AK_CMD], "cmd", 1, a->command, NULL);
    if (!err)
        err = jc_rd_bool(d, v[AK_OK], "ok", 1, &a->ok, NULL);
    if (!err)
        err = jc_rd_str(d, v[AK_ERR], "err", 0, &a->error);
    return err;
}

enum { UP_JOB, UP_STATE, UP_ATT, UP_RESULT, UP_ERR, UP_IKEY, UP_REASON, UP__N };
/* Version 1 has no "reason": its slot is NULL there, so the key is unknown. */
static const char *const update_fields_v1[UP__N] = {"job", "state", "att", "result",
                                                    "err", "ikey",  NULL};
static const char *const update_fields_v2[UP__N] = {"job", "state", "att",   "result",
                                                    "err", "ikey",  "reason"};

/* decode_update reads a job.update body by the rules of version `version`. */
static jc_err_t decode_update(jc_rd *d, const msgpack_object *b, uint32_t version,
                              jc_job_update *u)
{
    const msgpack_object *v[UP__N];
    jc_err_t err = jc_rd_fields(d, b, version >= 2 ? update_fields_v2 : update_fields_v1, UP__N, v);

    if (!err)
        err = jc_rd_id(d, v[UP_JOB], "job", 1, u->job, NULL);
    if (!err)
        err = jc_rd_str(d, v[UP_STATE], "state", 1, &u->state);
    if (!err)
        err = jc_rd_u32(d, v[UP_ATT], "att", 1, &u->attempt, NULL);
    if (!err)
        err = jc_rd_bin(d, v[UP_RESULT], "result", 0, &u->result);
    if (!err)
        err = jc_rd_str(d, v[UP_ERR], "err", 0, &u->error);
    if (!err)
        err = jc_rd_str(d, v[UP_IKEY], "ikey", 0, &u->ikey);
    if (!err)
        err = jc_rd_str(d, v[UP_REASON], "reason", 0, &u->reason);
    return err;
}

enum { WE_LEVEL, WE_KIND, WE_TEXT, WE_META, WE__N };
static const char *const wevent_fields[WE__N] = {"level", "kind", "text", "meta"};

/* decode_wevent reads a worker.event body. */
static jc_err_t decode_wevent(jc_rd *d, const msgpack_object *b, jc_worker_event_body *w)
{
    const msgpack_object *v[WE__N];
    jc_err_t err = jc_rd_fields(d, b, wevent_fields, WE__N, v);

    if (!err)
        err = jc_rd_str(d, v[WE_LEVEL], "level", 1, &w->level);
    if (!err)
        err = jc_rd_str(d, v[WE_KIND], "kind", 1, &w->kind);
    if (!err)
        err = jc_rd_str(d, v[WE_TEXT], "text", 1, &w->text);
    if (!err)
        err = jc_rd_kvs(d, v[WE_META], "meta", 0, &w->meta, &w->n_meta);
    return err;
}

enum { RF_JOB, RF_REQ, RF_OF, RF_REASON, RF_TEXT, RF__N };
static const char *const refusal_fields[RF__N] = {"job", "req", "of", "reason", "text"};

/* decode_refusal reads a job.refusal body. */
static jc_err_t decode_refusal(jc_rd *d, const msgpack_object *b, jc_job_refusal *r)
{
    const msgpack_object *v[RF__N];
    jc_err_t err = jc_rd_fields(d, b, refusal_fields, RF__N, v);

    if (!err)
        err = jc_rd_id(d, v[RF_JOB], "job", 1, r->job, NULL);
    if (!err)
        err = jc_rd_id(d, v[RF_REQ], "req", 1, r->request, NULL);
    if (!err)
        err = jc_rd_str(d, v[RF_OF], "of", 1, &r->of);
    if (!err)
        err = jc_rd_str(d, v[RF_REASON], "reason", 1, &r->reason);
    if (!err)
        err = jc_rd_str(d, v[RF_TEXT], "text", 0, &r->text);
    return err;
}

enum { TOP_T, TOP_ID, TOP_TS, TOP_P, TOP_B, TOP__N };
static const char *const top_fields[TOP__N] = {"t", "id", "ts", "p", "b"};

/* decode_body dispatches on the message type. */
static jc_err_t decode_body(jc_rd *d, const msgpack_object *b, jc_msg *m)
{
    switch (m->type) {
    case JC_MSG_HEARTBEAT: return decode_heartbeat(d, b, &m->u.hb);
    case JC_MSG_JOB_SUBMIT: return decode_submit(d, b, &m->u.submit);
    case JC_MSG_JOB_CANCEL: return decode_cancel(d, b, &m->u.cancel);
    case JC_MSG_JOB_EVENT: return decode_event(d, b, &m->u.event);
    case JC_MSG_COMMAND: return decode_command(d, b, &m->u.cmd);
    case JC_MSG_COMMAND_ACK: return decode_ack(d, b, &m->u.ack);
    case JC_MSG_JOB_UPDATE: return decode_update(d, b, m->version, &m->u.update);
    case JC_MSG_WORKER_EVENT: return decode_wevent(d, b, &m->u.wevent);
    case JC_MSG_JOB_REFUSAL: return decode_refusal(d, b, &m->u.refusal);
    default: return JC_ERR_SCHEMA;
    }
}

jc_err_t jc_msg_decode_reason(const jc_envelope *env, jc_msg *m, const char **reason, char *errstr,
                              size_t errstr_size)
{
    jc_rd d = {.what = "signed payload", .errstr = errstr, .errstr_size = errstr_size};
    const msgpack_object *v[TOP__N];
    msgpack_object root;
    msgpack_unpack_return ur;
    jc_slice t = {NULL, 0};
    size_t off = 0;
    int mismatch = 0;
    jc_err_t err = JC_OK;

    if (m != NULL)
        memset(m, 0, sizeof(*m));
    if (env == NULL || m == NULL || env->signed_bytes.p == NULL) {
        jc_proto_errf(errstr, errstr_size, "jc_msg_decode: NULL argument");
        err = JC_ERR_INVALID_ARG;
        goto out;
    }
    err = jc_guard(env->signed_bytes.p, env->signed_bytes.n, JC_MAX_DEPTH, JC_MAX_ELEMENTS, errstr,
                   errstr_size);
    if (err)
        goto out;
    if (!msgpack_zone_init(&m->zone_storage_, ZONE_CHUNK)) {
        jc_proto_errf(errstr, errstr_size, "out of memory");
        err = JC_ERR_NOMEM;
        goto out;
    }
    m->zone_ = &m->zone_storage_;
    m->version = env->version ? env->version : JC_PROTO_VERSION; /* the rules to read it by */
    d.zone = m->zone_;
    ur =
        msgpack_unpack((const char *)env->signed_bytes.p, env->signed_bytes.n, &off, d.zone, &root);
    if (ur != MSGPACK_UNPACK_SUCCESS) {
        jc_proto_errf(errstr, errstr_size, "signed payload: msgpack unpack failed (%d)", (int)ur);
        err = ur == MSGPACK_UNPACK_NOMEM_ERROR ? JC_ERR_NOMEM : JC_ERR_MALFORMED;
        goto out;
    }
    if (root.type != MSGPACK_OBJECT_MAP) {
        jc_proto_errf(errstr, errstr_size, "signed payload is not a map");
        err = JC_ERR_SCHEMA;
        goto out;
    }
    err = jc_rd_fields(&d, &root, top_fields, TOP__N, v);
    if (!err)
        err = jc_rd_str(&d, v[TOP_T], "t", 1, &t);
    if (!err)
        err = jc_rd_id(&d, v[TOP_ID], "id", 1, m->id, NULL);
    if (!err)
        err = jc_rd_uint(&d, v[TOP_TS], "ts", 1, UINT64_MAX, &m->ts_ms, NULL);
    if (!err)
        err = jc_rd_str(&d, v[TOP_P], "p", 1, &m->principal);
    if (!err && v[TOP_B] == NULL) {
        jc_proto_errf(errstr, errstr_size, "signed payload: missing field 'b'");
        err = JC_ERR_SCHEMA;
    }
    if (err)
        goto out;
    m->type = jc_msg_type_parse(t.p, t.n);
    if (m->type == JC_MSG_NONE) {
        char repr[40];

        jc_proto_repr(t.p, t.n, repr, sizeof(repr));
        jc_proto_errf(errstr, errstr_size, "unknown message type '%s'", repr);
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (m->principal.n != env->principal.n ||
        memcmp(m->principal.p, env->principal.p, m->principal.n) != 0) {
        jc_proto_errf(errstr, errstr_size, "signed 'p' differs from the envelope's 'p'");
        mismatch = 1;
        err = JC_ERR_SCHEMA;
        goto out;
    }
    if (v[TOP_B]->type != MSGPACK_OBJECT_MAP) {
        err = jc_rd_wrong_type(&d, "b", "a map");
        goto out;
    }
    d.what = jc_msg_type_name(m->type);
    err = decode_body(&d, v[TOP_B], m);
    if (err == JC_ERR_NOMEM)
        jc_proto_errf(errstr, errstr_size, "out of memory");
    if (err)
        goto out;
    err = jc_msg_validate(m, errstr, errstr_size);
out:
    if (err && m != NULL)
        jc_msg_release(m);
    if (reason != NULL)
        *reason = err ? (mismatch ? "principal_mismatch" : jc_err_reason(err)) : NULL;
    return err;
}

jc_err_t jc_msg_decode(const jc_envelope *env, jc_msg *m, char *errstr, size_t errstr_size)
{
    return jc_msg_decode_reason(env, m, NULL, errstr, errstr_size);
}

void jc_msg_release(jc_msg *m)
{
    if (m == NULL)
        return;
    /* zone_ only marks the zone as live: destroy the storage of this copy. */
    if (m->zone_ != NULL)
        msgpack_zone_destroy(&m->zone_storage_);
    memset(m, 0, sizeof(*m));
}
