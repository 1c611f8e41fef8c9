/*
 * gen_vectors.c - writes the signed test vectors of schemas/vectors/ from
 * fixed inputs (keys, ids, timestamps), using the project's encoder, and
 * optionally the envelopes alone as a fuzzing seed corpus.
 *
 *   jc-gen-vectors [--corpus DIR] OUTDIR
 *
 * The inputs are written in the text syntax of schemas/vectors/README.md by
 * a formatter of its own, and test_proto_vectors reads them back with an
 * independent parser, so the two cross-check each other. Each vector names
 * the msgpack formats it exists to show ("widths"); the test finds them in
 * the bytes. Formats the canonical encoder never produces within the limits
 * (int 32/64, str 32, array 32, map 32, ...) are shown by "accept" vectors:
 * their signed payload is the canonical one re-encoded with wider formats
 * (widen below), which receivers MUST accept (PROTOCOL.md 3.2). Exit status: 0 ok,
 * 1 the encoder refused a vector, 100 usage, 111 system error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gen_vectors_widen.h"
#include "jcproto/proto.h"

#define WORKER "worker-1"
#define CLIENT "client-7"

/* vec is one vector: its file name, what it shows, the msgpack formats it
 * exists to show, key, and the message; wide, for an accept vector. */
typedef struct vec {
    const char *name;
    const char *about;
    const char *widths;
    const char *key_id;
    const uint8_t *key;
    widening wide;
    jc_msg m;
} vec;

static uint8_t worker_key[JC_KEY_LEN], client_key[JC_KEY_LEN];
static uint8_t job_a[JC_ID_LEN], job_b[JC_ID_LEN], cmd_a[JC_ID_LEN];
static uint8_t big_payload[300], huge_payload[65536];
static char long_text[320];
static jc_slice many_caps[20];
static char many_caps_text[20][8];
static jc_kv many_settings[16];
static char many_settings_text[16][2][12];
static const uint8_t small_payload[] = "{\"src\":\"s3://in/a.mov\",\"crf\":23}";
static const uint8_t result_bytes[] = {0x82, 0xa3, 'o', 'u', 't', 0xa5, 'a', '.', 'm', 'p', '4'};
static jc_slice caps[3];
static jc_running_job running[2];
static jc_kv settings[2], meta[2];

/* hex_put writes n bytes as lowercase hex. */
static void hex_put(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

/* put_line writes "name = value", or "name =" for an empty value. */
static void put_line(FILE *f, const char *name, const char *value, size_t n)
{
    fprintf(f, "%s =", name);
    if (n > 0) {
        fputc(' ', f);
        fwrite(value, 1, n, f);
    }
    fputc('\n', f);
}

/* put_str writes a str field literally. */
static void put_str(FILE *f, const char *name, jc_slice s)
{
    put_line(f, name, (const char *)s.p, s.n);
}

/* put_bin writes a bin field as hex:... */
static void put_bin(FILE *f, const char *name, jc_slice s)
{
    fprintf(f, "%s = hex:", name);
    hex_put(f, s.p, s.n);
    fputc('\n', f);
}

/* put_uuid writes a 16-byte id in its UUID text form. */
static void put_uuid(FILE *f, const char *name, const uint8_t *id)
{
    char text[37];

    jc_id_format(id, text);
    fprintf(f, "%s = %s\n", name, text);
}

/* put_u64 writes an unsigned decimal. */
static void put_u64(FILE *f, const char *name, uint64_t v)
{
    fprintf(f, "%s = %llu\n", name, (unsigned long long)v);
}

/* put_kvs writes a str->str map as k=v;k=v. */
static void put_kvs(FILE *f, const char *name, const jc_kv *kv, uint32_t n)
{
    fprintf(f, "%s =%s", name, n > 0 ? " " : "");
    for (uint32_t i = 0; i < n; i++) {
        fprintf(f, "%s%.*s=%.*s", i > 0 ? ";" : "", (int)kv[i].key.n, (const char *)kv[i].key.p,
                (int)kv[i].value.n, (const char *)kv[i].value.p);
    }
    fputc('\n', f);
}

/* put_heartbeat writes a heartbeat's body inputs. */
static void put_heartbeat(FILE *f, const jc_heartbeat *hb)
{
    char text[37];

    fprintf(f, "body.caps =%s", hb->n_caps > 0 ? " " : "");
    for (uint32_t i = 0; i < hb->n_caps; i++)
        fprintf(f, "%s%.*s", i > 0 ? "," : "", (int)hb->caps[i].n, (const char *)hb->caps[i].p);
    fputc('\n', f);
    put_u64(f, "body.slots", hb->slots);
    fprintf(f, "body.running =%s", hb->n_running > 0 ? " " : "");
    for (uint32_t i = 0; i < hb->n_running; i++) {
        jc_id_format(hb->running[i].job, text);
        fprintf(f, "%s%s@%u", i > 0 ? "," : "", text, (unsigned)hb->running[i].attempt);
    }
    fputc('\n', f);
    put_str(f, "body.ver", hb->version);
    put_str(f, "body.host", hb->host);
    put_u64(f, "body.up", hb->uptime_s);
    put_u64(f, "body.seq", hb->seq);
    if (hb->has_config_version)
        put_u64(f, "body.cfgv", hb->config_version);
    if (hb->draining)
        fprintf(f, "body.drain = true\n");
}

/* put_body writes the body inputs of m, omitting what the encoder omits. */
static void put_body(FILE *f, const jc_msg *m)
{
    switch (m->type) {
    case JC_MSG_HEARTBEAT: put_heartbeat(f, &m->u.hb); break;
    case JC_MSG_JOB_SUBMIT: {
        const jc_job_submit *s = &m->u.submit;
        put_uuid(f, "body.job", s->job);
        put_str(f, "body.type", s->type);
        put_bin(f, "body.payload", s->payload);
        if (s->priority != 0)
            fprintf(f, "body.prio = %d\n", (int)s->priority);
        if (s->max_attempts != 3)
            put_u64(f, "body.att", s->max_attempts);
        if (s->has_run_after)
            put_u64(f, "body.after", s->run_after_ms);
        if (s->has_timeout)
            put_u64(f, "body.timeout", s->timeout_ms);
        if (s->ikey.n > 0)
            put_str(f, "body.ikey", s->ikey);
        break;
    }
    case JC_MSG_JOB_CANCEL:
        put_uuid(f, "body.job", m->u.cancel.job);
        if (m->u.cancel.reason.n > 0)
            put_str(f, "body.reason", m->u.cancel.reason);
        break;
    case JC_MSG_JOB_EVENT: {
        const jc_job_event *e = &m->u.event;
        put_uuid(f, "body.job", e->job);
        put_u64(f, "body.att", e->attempt);
        fprintf(f, "body.kind = %s\n", jc_job_event_kind_name(e->kind));
        if (e->has_progress)
            put_u64(f, "body.pct", e->progress);
        if (e->text.n > 0)
            put_str(f, "body.text", e->text);
        if (e->stream.n > 0)
            put_str(f, "body.stream", e->stream);
        if (e->result.n > 0)
            put_bin(f, "body.result", e->result);
        if (e->retryable)
            fprintf(f, "body.retry = true\n");
        if (e->has_command)
            put_uuid(f, "body.cmd", e->command);
        break;
    }
    case JC_MSG_COMMAND: {
        const jc_command *c = &m->u.cmd;
        put_uuid(f, "body.cmd", c->command);
        fprintf(f, "body.kind = %s\n", jc_command_kind_name(c->kind));
        put_str(f, "body.worker", c->worker);
        if (c->kind == JC_CMD_ASSIGN || c->kind == JC_CMD_CANCEL) {
            put_uuid(f, "body.job", c->job);
            put_u64(f, "body.att", c->attempt);
        }
        if (c->kind == JC_CMD_ASSIGN) {
            put_str(f, "body.type", c->type);
            put_bin(f, "body.payload", c->payload);
            put_u64(f, "body.timeout", c->timeout_ms);
        }
        if (c->kind == JC_CMD_CANCEL && c->reason.n > 0)
            put_str(f, "body.reason", c->reason);
        if (c->kind == JC_CMD_CONFIG) {
            put_u64(f, "body.cfgv", c->config_version);
            put_kvs(f, "body.settings", c->settings, c->n_settings);
        }
        break;
    }
    case JC_MSG_COMMAND_ACK:
        put_uuid(f, "body.cmd", m->u.ack.command);
        fprintf(f, "body.ok = %s\n", m->u.ack.ok ? "true" : "false");
        if (m->u.ack.error.n > 0)
            put_str(f, "body.err", m->u.ack.error);
        break;
    case JC_MSG_JOB_UPDATE:
        put_uuid(f, "body.job", m->u.update.job);
        put_str(f, "body.state", m->u.update.state);
        put_u64(f, "body.att", m->u.update.attempt);
        if (m->u.update.result.n > 0)
            put_bin(f, "body.result", m->u.update.result);
        if (m->u.update.error.n > 0)
            put_str(f, "body.err", m->u.update.error);
        if (m->u.update.ikey.n > 0)
            put_str(f, "body.ikey", m->u.update.ikey);
        if (m->u.update.reason.n > 0)
            put_str(f, "body.reason", m->u.update.reason);
        break;
    case JC_MSG_WORKER_EVENT:
        put_str(f, "body.level", m->u.wevent.level);
        put_str(f, "body.kind", m->u.wevent.kind);
        put_str(f, "body.text", m->u.wevent.text);
        if (m->u.wevent.n_meta > 0)
            put_kvs(f, "body.meta", m->u.wevent.meta, m->u.wevent.n_meta);
        break;
    case JC_MSG_JOB_REFUSAL:
        put_uuid(f, "body.job", m->u.refusal.job);
        put_uuid(f, "body.req", m->u.refusal.request);
        put_str(f, "body.of", m->u.refusal.of);
        put_str(f, "body.reason", m->u.refusal.reason);
        if (m->u.refusal.text.n > 0)
            put_str(f, "body.text", m->u.refusal.text);
        break;
    default: break;
    }
}

/* start fills the common part of vector number n: fixed id and timestamp. */
static jc_msg *start(vec *v, int n, const char *name, const char *about, jc_msg_type t)
{
    memset(v, 0, sizeof(*v));
    v->name = name;
    v->about = about;
    v->m.type = t;
    for (int i = 0; i < JC_ID_LEN; i++)
        v->m.id[i] = (uint8_t)(n * 16 + i);
    v->m.ts_ms = 1700000000000ull + (uint64_t)n * 1000u;
    /* in every payload: the maps, "t" and "p" (fixstr), "id" (bin 8), "ts" */
    v->widths = "fixmap,fixstr,bin8,uint64";
    /* Workers sign with their key; coordinator messages are signed with the
     * recipient's key and carry the recipient as "p". */
    if (t == JC_MSG_JOB_SUBMIT || t == JC_MSG_JOB_CANCEL || t == JC_MSG_JOB_UPDATE ||
        t == JC_MSG_JOB_REFUSAL) {
        v->m.principal = jc_slice_str(CLIENT);
        v->key_id = "client-7.2024";
        v->key = client_key;
    } else {
        v->m.principal = jc_slice_str(WORKER);
        v->key_id = "k1";
        v->key = worker_key;
    }
    return &v->m;
}

/* fixed_inputs fills keys, ids and payloads. */
static void fixed_inputs(void)
{
    size_t o = 0;

    for (int i = 0; i < JC_KEY_LEN; i++) {
        worker_key[i] = (uint8_t)i;
        client_key[i] = (uint8_t)(0x20 + i);
    }
    jc_id_parse("6f1a3c2e-8b4d-4e7f-9a01-23456789abcd", job_a);
    jc_id_parse("00000000-0000-4000-8000-000000000001", job_b);
    jc_id_parse("c0ffee00-1234-4567-89ab-cdef01234567", cmd_a);
    for (size_t i = 0; i < sizeof(big_payload); i++)
        big_payload[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof(huge_payload); i++)
        huge_payload[i] = (uint8_t)(i * 13 + (i >> 8));
    for (int i = 0; i < 20; i++) {
        snprintf(many_caps_text[i], sizeof(many_caps_text[i]), "cap.%02d", i);
        many_caps[i] = jc_slice_str(many_caps_text[i]);
    }
    for (int i = 0; i < 16; i++) {
        snprintf(many_settings_text[i][0], sizeof(many_settings_text[i][0]), "key.%02d", i);
        snprintf(many_settings_text[i][1], sizeof(many_settings_text[i][1]), "%d", i * 100);
        many_settings[i] = (jc_kv){jc_slice_str(many_settings_text[i][0]),
                                   jc_slice_str(many_settings_text[i][1])};
    }
    /* 300+ bytes of UTF-8: a str16 header, and multi-byte characters. */
    while (o + 12 < sizeof(long_text)) {
        memcpy(long_text + o, "h\xc3\xa9llo \xe2\x9c\x93 ", 11); /* 11 bytes, no NUL */
        o += 11;
    }
    long_text[o] = '\0';
}

/* accept_from starts accept vector n as a copy of vector src's message,
 * re-encoded with the widths of w. */
static jc_msg *accept_from(vec *v, int n, int src, const char *name, const char *about,
                           const char *widths, widening w)
{
    jc_msg copy = v[src].m;

    start(&v[n], n, name, about, copy.type);
    copy.ts_ms = v[n].m.ts_ms;
    memcpy(copy.id, v[n].m.id, JC_ID_LEN);
    v[n].m = copy;
    v[n].widths = widths;
    v[n].wide = w;
    return &v[n].m;
}

/* find returns the index of the vector named name (it exists). */
static int find(const vec *v, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return i;
    return 0;
}

/* build_accept adds the accept vectors after the n canonical ones. */
static int build_accept(vec *v, int n)
{
    int hb = find(v, n, "heartbeat_full"), sub = find(v, n, "job_submit_full");

    accept_from(v, n, hb, "accept_heartbeat_int8",
                "heartbeat_full's fields in the smallest signed int formats (int 8 .. int 64),"
                " str 8, bin 16, array 16 and map 16: not canonical, receivers MUST accept it",
                "int8,int16,int32,int64,str8,bin16,array16,map16,true", (widening){1, 1, 2, 2});
    n++;
    accept_from(v, n, hb, "accept_heartbeat_int64",
                "heartbeat_full's fields with every integer in int 64, str 16, bin 32, array 32"
                " and map 32: not canonical, receivers MUST accept it",
                "int64,str16,bin32,array32,map32,true", (widening){8, 2, 4, 4});
    n++;
    accept_from(v, n, sub, "accept_job_submit_int32",
                "job_submit_full's fields with integers in int 32 (int 64 where needed), str 32,"
                " bin 32 and map 32: not canonical, receivers MUST accept it",
                "int32,int64,str32,bin32,map32", (widening){4, 4, 4, 4});
    n++;
    return n;
}

/* build fills the vectors; returns their number. */
static int build(vec *v)
{
    static const jc_job_event_kind kinds[] = {JC_EV_ACCEPTED, JC_EV_STARTED,   JC_EV_PROGRESS,
                                              JC_EV_LOG,      JC_EV_SUCCEEDED, JC_EV_FAILED,
                                              JC_EV_CANCELED};
    static const char *const kind_files[] = {
        "job_event_accepted",  "job_event_started", "job_event_progress", "job_event_log",
        "job_event_succeeded", "job_event_failed",  "job_event_canceled"};
    static const jc_command_kind cmds[] = {JC_CMD_ASSIGN, JC_CMD_CANCEL, JC_CMD_DRAIN,
                                           JC_CMD_UNDRAIN, JC_CMD_CONFIG};
    static const char *const cmd_files[] = {"command_assign", "command_cancel", "command_drain",
                                            "command_undrain", "command_config"};
    int n = 0;
    jc_msg *m;

    m = start(&v[n], n, "heartbeat_full", "heartbeat with every field; uint8..uint64 encodings",
              JC_MSG_HEARTBEAT);
    caps[0] = jc_slice_str("transcode.h264");
    caps[1] = jc_slice_str("whisper:small");
    caps[2] = jc_slice_str("gpu@nvidia");
    m->u.hb.caps = caps;
    m->u.hb.n_caps = 3;
    m->u.hb.slots = 1024;
    memcpy(running[0].job, job_a, JC_ID_LEN);
    running[0].attempt = 1;
    memcpy(running[1].job, job_b, JC_ID_LEN);
    running[1].attempt = 100;
    m->u.hb.running = running;
    m->u.hb.n_running = 2;
    m->u.hb.version = jc_slice_str("jobcoord-worker/0.1.0 (linux; x86_64)");
    m->u.hb.host = jc_slice_str("build-node-17.eu-west-1.compute.example.net");
    m->u.hb.uptime_s = 4294967296ull;
    m->u.hb.seq = 65536;
    m->u.hb.has_config_version = 1;
    m->u.hb.config_version = 200;
    m->u.hb.draining = 1;
    v[n].widths = "fixmap,fixarray,fixstr,str8,bin8,fixint,uint8,uint16,uint32,uint64,true";
    n++;

    m = start(&v[n], n, "heartbeat_minimal",
              "heartbeat with optional fields omitted and empty arrays and strings",
              JC_MSG_HEARTBEAT);
    m->u.hb.seq = 1;
    v[n].widths = "fixmap,fixarray,fixstr,bin8,fixint,uint64";
    n++;

    m = start(&v[n], n, "job_submit_full", "job.submit with every field; 300-byte payload (bin16)",
              JC_MSG_JOB_SUBMIT);
    memcpy(m->u.submit.job, job_a, JC_ID_LEN);
    m->u.submit.type = jc_slice_str("transcode.h264");
    m->u.submit.payload = (jc_slice){big_payload, sizeof(big_payload)};
    m->u.submit.priority = -5;
    m->u.submit.max_attempts = 5;
    m->u.submit.has_run_after = 1;
    m->u.submit.run_after_ms = 1700000600000ull;
    m->u.submit.has_timeout = 1;
    m->u.submit.timeout_ms = 3600000;
    m->u.submit.ikey = jc_slice_str("order-1234");
    v[n].widths = "fixmap,fixstr,bin8,bin16,fixint,negfixint,uint32,uint64";
    n++;

    m = start(&v[n], n, "job_submit_minimal",
              "job.submit with defaults omitted (prio 0, att 3) and an empty payload",
              JC_MSG_JOB_SUBMIT);
    memcpy(m->u.submit.job, job_b, JC_ID_LEN);
    m->u.submit.type = jc_slice_str("noop");
    m->u.submit.max_attempts = 3;
    n++;

    m = start(&v[n], n, "job_submit_prio", "job.submit with the extreme priorities' encodings",
              JC_MSG_JOB_SUBMIT);
    memcpy(m->u.submit.job, job_b, JC_ID_LEN);
    m->u.submit.type = jc_slice_str("noop");
    m->u.submit.payload = (jc_slice){small_payload, sizeof(small_payload) - 1};
    m->u.submit.priority = -1000;
    m->u.submit.max_attempts = 1;
    v[n].widths = "fixmap,fixstr,bin8,int16,fixint,uint64";
    n++;

    m = start(&v[n], n, "job_submit_int8", "job.submit with a priority in int 8", JC_MSG_JOB_SUBMIT);
    memcpy(m->u.submit.job, job_b, JC_ID_LEN);
    m->u.submit.type = jc_slice_str("noop");
    m->u.submit.payload = (jc_slice){small_payload, sizeof(small_payload) - 1};
    m->u.submit.priority = -100;
    m->u.submit.max_attempts = 3;
    v[n].widths = "fixmap,fixstr,bin8,int8,uint64";
    n++;

    m = start(&v[n], n, "job_submit_bin32", "job.submit with a 65536-byte payload (bin 32)",
              JC_MSG_JOB_SUBMIT);
    memcpy(m->u.submit.job, job_b, JC_ID_LEN);
    m->u.submit.type = jc_slice_str("noop");
    m->u.submit.payload = (jc_slice){huge_payload, sizeof(huge_payload)};
    m->u.submit.max_attempts = 3;
    v[n].widths = "fixmap,fixstr,bin8,bin32,uint64";
    n++;

    m = start(&v[n], n, "job_cancel", "job.cancel with a reason", JC_MSG_JOB_CANCEL);
    memcpy(m->u.cancel.job, job_a, JC_ID_LEN);
    m->u.cancel.reason = jc_slice_str("no longer needed");
    n++;

    m = start(&v[n], n, "job_cancel_minimal", "job.cancel without a reason", JC_MSG_JOB_CANCEL);
    memcpy(m->u.cancel.job, job_a, JC_ID_LEN);
    n++;

    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        jc_job_event *e;

        m = start(&v[n], n, kind_files[k], "job.event of one kind", JC_MSG_JOB_EVENT);
        e = &m->u.event;
        memcpy(e->job, job_a, JC_ID_LEN);
        e->attempt = 2;
        e->kind = kinds[k];
        switch (kinds[k]) {
        case JC_EV_ACCEPTED:
            e->has_command = 1;
            memcpy(e->command, cmd_a, JC_ID_LEN);
            break;
        case JC_EV_PROGRESS:
            e->has_progress = 1;
            e->progress = 42;
            break;
        case JC_EV_LOG:
            e->text = jc_slice_str("frame 100/240 done");
            e->stream = jc_slice_str("stderr");
            break;
        case JC_EV_SUCCEEDED: e->result = (jc_slice){result_bytes, sizeof(result_bytes)}; break;
        case JC_EV_FAILED:
            e->text = jc_slice_str("ffmpeg: exit status 3");
            e->retryable = 1;
            break;
        default: break;
        }
        n++;
    }

    m = start(&v[n], n, "job_event_log_utf8", "job.event log line of 300+ bytes of UTF-8 (str16)",
              JC_MSG_JOB_EVENT);
    memcpy(m->u.event.job, job_a, JC_ID_LEN);
    m->u.event.attempt = 100;
    m->u.event.kind = JC_EV_LOG;
    m->u.event.text = jc_slice_str(long_text);
    m->u.event.stream = jc_slice_str("stdout");
    v[n].widths = "fixmap,fixstr,str16,bin8,fixint,uint64";
    n++;

    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
        jc_command *c;

        m = start(&v[n], n, cmd_files[k],
                  "command of one kind, signed with the recipient worker's key", JC_MSG_COMMAND);
        c = &m->u.cmd;
        memcpy(c->command, cmd_a, JC_ID_LEN);
        c->kind = cmds[k];
        c->worker = jc_slice_str(WORKER);
        if (cmds[k] == JC_CMD_ASSIGN || cmds[k] == JC_CMD_CANCEL) {
            memcpy(c->job, job_a, JC_ID_LEN);
            c->attempt = 2;
        }
        if (cmds[k] == JC_CMD_ASSIGN) {
            c->type = jc_slice_str("transcode.h264");
            c->payload = (jc_slice){small_payload, sizeof(small_payload) - 1};
            c->timeout_ms = 600000;
        }
        if (cmds[k] == JC_CMD_CANCEL)
            c->reason = jc_slice_str("canceled by client-7");
        if (cmds[k] == JC_CMD_CONFIG) {
            settings[0] = (jc_kv){jc_slice_str("log.level"), jc_slice_str("debug")};
            settings[1] = (jc_kv){jc_slice_str("heartbeat.interval.ms"), jc_slice_str("5000")};
            c->config_version = 7;
            c->settings = settings;
            c->n_settings = 2;
        }
        n++;
    }

    m = start(&v[n], n, "command_config_map16", "config command with 16 settings (map 16)",
              JC_MSG_COMMAND);
    memcpy(m->u.cmd.command, cmd_a, JC_ID_LEN);
    m->u.cmd.kind = JC_CMD_CONFIG;
    m->u.cmd.worker = jc_slice_str(WORKER);
    m->u.cmd.config_version = 65535;
    m->u.cmd.settings = many_settings;
    m->u.cmd.n_settings = 16;
    v[n].widths = "fixmap,map16,fixstr,bin8,uint16,uint64";
    n++;

    m = start(&v[n], n, "command_ack_ok", "command.ack, success", JC_MSG_COMMAND_ACK);
    memcpy(m->u.ack.command, cmd_a, JC_ID_LEN);
    m->u.ack.ok = 1;
    v[n].widths = "fixmap,fixstr,bin8,uint64,true";
    n++;

    m = start(&v[n], n, "command_ack_error", "command.ack, refusal with an error text",
              JC_MSG_COMMAND_ACK);
    memcpy(m->u.ack.command, cmd_a, JC_ID_LEN);
    m->u.ack.error = jc_slice_str("unknown job");
    v[n].widths = "fixmap,fixstr,bin8,uint64,false";
    n++;

    m = start(&v[n], n, "job_update_full",
              "job.update with every field, signed with the recipient client's key",
              JC_MSG_JOB_UPDATE);
    memcpy(m->u.update.job, job_a, JC_ID_LEN);
    m->u.update.state = jc_slice_str("succeeded");
    m->u.update.attempt = 2;
    m->u.update.result = (jc_slice){result_bytes, sizeof(result_bytes)};
    m->u.update.error = jc_slice_str("attempt 1: ffmpeg: exit status 3");
    m->u.update.ikey = jc_slice_str("order-1234");
    n++;

    m = start(&v[n], n, "job_update_minimal", "job.update of a pending job, attempt 0",
              JC_MSG_JOB_UPDATE);
    memcpy(m->u.update.job, job_b, JC_ID_LEN);
    m->u.update.state = jc_slice_str("pending");
    n++;

    m = start(&v[n], n, "worker_event_meta", "worker.event with metadata", JC_MSG_WORKER_EVENT);
    m->u.wevent.level = jc_slice_str("warn");
    m->u.wevent.kind = jc_slice_str("disk.low");
    m->u.wevent.text = jc_slice_str("free space below 5% on /data");
    meta[0] = (jc_kv){jc_slice_str("mount"), jc_slice_str("/data")};
    meta[1] = (jc_kv){jc_slice_str("free.bytes"), jc_slice_str("2254857830")};
    m->u.wevent.meta = meta;
    m->u.wevent.n_meta = 2;
    n++;

    m = start(&v[n], n, "worker_event_minimal", "worker.event with an empty text and no metadata",
              JC_MSG_WORKER_EVENT);
    m->u.wevent.level = jc_slice_str("info");
    m->u.wevent.kind = jc_slice_str("started");
    n++;

    m = start(&v[n], n, "heartbeat_array16", "heartbeat with 20 capabilities (array 16)",
              JC_MSG_HEARTBEAT);
    m->u.hb.caps = many_caps;
    m->u.hb.n_caps = 20;
    m->u.hb.slots = 4;
    m->u.hb.seq = 2;
    v[n].widths = "fixmap,array16,fixarray,fixstr,bin8,fixint,uint64";
    n++;

    /* accept vectors: non-canonical widths that receivers MUST accept */
    n = build_accept(v, n);
    m = start(&v[n], n, "job_refusal_submit",
              "job.refusal of a job.submit signed with a rotated-out key, with a text, signed"
              " with the key the refused message was signed with",
              JC_MSG_JOB_REFUSAL);
    memcpy(m->u.refusal.job, job_a, JC_ID_LEN);
    memcpy(m->u.refusal.request, cmd_a, JC_ID_LEN);
    m->u.refusal.of = jc_slice_str("job.submit");
    m->u.refusal.reason = jc_slice_str("key_expired");
    m->u.refusal.text = jc_slice_str("key 'client-7.2024' of 'client-7' was rotated out");
    n++;

    m = start(&v[n], n, "job_refusal_cancel", "job.refusal of a job.cancel, without a text",
              JC_MSG_JOB_REFUSAL);
    memcpy(m->u.refusal.job, job_b, JC_ID_LEN);
    memcpy(m->u.refusal.request, job_a, JC_ID_LEN);
    m->u.refusal.of = jc_slice_str("job.cancel");
    m->u.refusal.reason = jc_slice_str("not_owner");
    n++;

    /* Protocol version 2: the cancel reason in its own field; and the same
     * update in version 1, where err carries the cancel reason. */
    m = start(&v[n], n, "job_update_v2_reason",
              "protocol version 2: job.update of a canceled job, the cancel reason in 'reason'"
              " and the worker's last error in 'err'",
              JC_MSG_JOB_UPDATE);
    m->version = 2;
    memcpy(m->u.update.job, job_a, JC_ID_LEN);
    m->u.update.state = jc_slice_str("canceled");
    m->u.update.attempt = 2;
    m->u.update.error = jc_slice_str("ffmpeg: killed by signal 15");
    m->u.update.reason = jc_slice_str("superseded by order-1235");
    n++;

    m = start(&v[n], n, "job_update_v1_canceled",
              "protocol version 1: job.update of the same canceled job, the cancel reason in"
              " 'err' (version 1 has no 'reason')",
              JC_MSG_JOB_UPDATE);
    memcpy(m->u.update.job, job_a, JC_ID_LEN);
    m->u.update.state = jc_slice_str("canceled");
    m->u.update.attempt = 2;
    m->u.update.error = jc_slice_str("superseded by order-1235");
    n++;
    return n;
}

/* write_file writes n bytes to dir/name+suffix; 0 or -1 (errno). */
static int write_file(const char *dir, const char *name, const char *suffix, const void *p,
                      size_t n)
{
    char path[4096];
    FILE *f = NULL;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix);
    f = fopen(path, "wb");
    if (f == NULL)
        goto out;
    if (fwrite(p, 1, n, f) != n)
        goto out;
    rc = 0;
out:
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "jc-gen-vectors: %s: %s\n", path, strerror(errno));
    return rc;
}

/* render writes one vector's text into a memory buffer; returns the error
 * of the codec, or JC_ERR_IO. */
static jc_err_t render(const vec *v, char **text, size_t *text_len, msgpack_sbuffer *env)
{
    msgpack_sbuffer sig;
    uint8_t mac[JC_MAC_LEN];
    jc_slice kid = jc_slice_str(v->key_id);
    char errstr[256] = "";
    FILE *f = NULL;
    jc_err_t err;

    int accept = v->wide.ints || v->wide.strs || v->wide.bins || v->wide.containers;

    msgpack_sbuffer_init(&sig);
    err = jc_msg_encode_signed(&v->m, &sig, errstr, sizeof(errstr));
    if (!err && accept) {
        msgpack_sbuffer wide;
        const uint8_t *p = (const uint8_t *)sig.data;

        msgpack_sbuffer_init(&wide);
        widen_one(&p, &v->wide, &wide);
        msgpack_sbuffer_destroy(&sig);
        sig = wide;
        err = jc_envelope_seal(&v->m.principal, &kid, v->key, (const uint8_t *)sig.data, sig.size,
                               env);
    } else if (!err) {
        err = jc_msg_seal(&v->m, &kid, v->key, env, errstr, sizeof(errstr));
    }
    if (err) {
        fprintf(stderr, "jc-gen-vectors: %s: %s\n", v->name, errstr);
        goto out;
    }
    crypto_auth_hmacsha256(mac, (const uint8_t *)sig.data, sig.size, v->key);
    f = open_memstream(text, text_len);
    if (f == NULL) {
        err = JC_ERR_IO;
        goto out;
    }
    fprintf(f, "# jobcoord wire protocol v%u test vector: %s\n",
            (unsigned)(v->m.version ? v->m.version : JC_PROTO_VERSION), v->about);
    fprintf(f, "# Generated by tests/tools/gen_vectors.c; do not edit. Syntax: README.md.\n\n");
    fprintf(f, "# inputs\n");
    fprintf(f, "type = %s\n", jc_msg_type_name(v->m.type));
    put_str(f, "principal", v->m.principal);
    fprintf(f, "key_id = %s\nkey = ", v->key_id);
    hex_put(f, v->key, JC_KEY_LEN);
    if (v->m.version > 1) /* absent: version 1 */
        fprintf(f, "\nversion = %u", (unsigned)v->m.version);
    fprintf(f, "\nid = ");
    hex_put(f, v->m.id, JC_ID_LEN);
    fprintf(f, "\n");
    put_u64(f, "ts", v->m.ts_ms);
    fprintf(f, "widths = %s\n", v->widths);
    if (accept)
        fprintf(f, "canonical = false\n");
    put_body(f, &v->m);
    fprintf(f, "\n# expected outputs\nsigned = ");
    hex_put(f, (const uint8_t *)sig.data, sig.size);
    fprintf(f, "\nmac = ");
    hex_put(f, mac, sizeof(mac));
    fprintf(f, "\nenvelope = ");
    hex_put(f, (const uint8_t *)env->data, env->size);
    fprintf(f, "\n");
    if (fclose(f) != 0)
        err = JC_ERR_IO;
out:
    msgpack_sbuffer_destroy(&sig);
    return err;
}

/* usage prints the synopsis. */
static void usage(FILE *f)
{
    fprintf(f, "usage: jc-gen-vectors [--corpus DIR] OUTDIR\n"
               "Writes OUTDIR/<name>.vec for every test vector, and with --corpus the\n"
               "envelopes alone as DIR/<name>.bin. Exit: 0 ok, 1 refused, 100 usage,\n"
               "111 system error.\n");
}

int main(int argc, char **argv)
{
    static vec vecs[64];
    const char *outdir = NULL, *corpus = NULL;
    int n, status = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc) {
            corpus = argv[++i];
        } else if (argv[i][0] != '-' && outdir == NULL) {
            outdir = argv[i];
        } else {
            usage(stderr);
            return 100;
        }
    }
    if (outdir == NULL) {
        usage(stderr);
        return 100;
    }
    if (sodium_init() < 0)
        return 111;
    fixed_inputs();
    n = build(vecs);
    for (int i = 0; i < n && status == 0; i++) {
        msgpack_sbuffer env;
        char *text = NULL;
        size_t text_len = 0;
        jc_err_t err;

        msgpack_sbuffer_init(&env);
        err = render(&vecs[i], &text, &text_len, &env);
        if (err)
            status = err == JC_ERR_IO ? 111 : 1;
        if (!status && write_file(outdir, vecs[i].name, ".vec", text, text_len) != 0)
            status = 111;
        if (!status && corpus != NULL &&
            write_file(corpus, vecs[i].name, ".bin", env.data, env.size) != 0)
            status = 111;
        free(text);
        msgpack_sbuffer_destroy(&env);
    }
    if (status == 0)
        printf("jc-gen-vectors: wrote %d vectors to %s\n", n, outdir);
    return status;
}
