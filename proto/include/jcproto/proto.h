/*
 * proto.h - the jobcoord wire protocol (versions 1 and 2): envelope, signing
 * and the codec of every message type (schemas/PROTOCOL.md is the normative
 * text).
 *
 * This is the project's one implementation of the spec. It is private: it is
 * built into a static library (jcproto) that both libjobcoord and the
 * coordinator link, and is not installed, because its structs would freeze
 * the ABI of the public SDK.
 *
 * Decoding untrusted input is done in three steps, each cheap and bounded:
 *   1. jc_envelope_parse: size cap, then a structural pre-scan (proto_guard)
 *      that checks every container count against the bytes remaining and
 *      bounds depth and total element count BEFORE msgpack-c allocates
 *      anything; then the envelope fields.
 *   2. jc_envelope_verify: constant-time HMAC-SHA256 check over the exact
 *      signed bytes (never over a re-encoding).
 *   3. jc_msg_decode: pre-scan of the signed bytes, unpack, and validation of
 *      every field against the schema (type, range, length, count).
 *
 * Memory: decoded slices (jc_slice) point into the caller's input buffer; the
 * buffer must outlive the jc_msg. Arrays of a decoded message live in the
 * jc_msg's zone and are freed by jc_msg_release.
 */
#ifndef JC_PROTO_H
#define JC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "jobcoord/jobcoord.h"

/* The versions this codec implements (PROTOCOL.md section 14). Version 2 is
 * version 1 plus the optional "reason" of job.update. A decoded message
 * carries the version of its envelope (jc_msg.version), and is read by that
 * version's rules; an encoded one is written in the version it names. */
#define JC_PROTO_VERSION 1 /* the version of a jc_msg whose version is 0 */
#define JC_PROTO_VERSION_MIN 1
#define JC_PROTO_VERSION_MAX 2

#define JC_ID_LEN 16  /* message, job and command ids: 16 random bytes */
#define JC_MAC_LEN 32 /* HMAC-SHA256 */
#define JC_KEY_LEN 32 /* HMAC keys are 32 random bytes */

/* Limits (PROTOCOL.md, "Limits"). */
#define JC_MAX_MESSAGE_BYTES (1024u * 1024u) /* hard cap on an envelope */
#define JC_MAX_DEPTH 6                       /* container nesting, envelope and payload */
#define JC_MAX_ELEMENTS 8192                 /* total objects in one msgpack document */
#define JC_MAX_PRINCIPAL_LEN 64
#define JC_MAX_KEY_ID_LEN 64
#define JC_MAX_NAME_LEN 64 /* capabilities, job types, event kinds */
#define JC_MAX_CAPS 64
#define JC_MAX_RUNNING 1024
#define JC_MAX_VERSION_LEN 64
#define JC_MAX_HOST_LEN 255
#define JC_MAX_SLOTS 1024
#define JC_MAX_PAYLOAD_BYTES (256u * 1024u) /* job payload and result */
#define JC_MAX_TEXT_LEN 4096                /* log lines, error texts, reasons */
#define JC_MAX_IKEY_LEN 128                 /* idempotency keys */
#define JC_MAX_ATTEMPTS 100
#define JC_MAX_SETTINGS 64 /* config settings / worker event metadata entries */
#define JC_MAX_SETTING_LEN 1024
#define JC_MAX_TIMEOUT_MS 86400000u /* job timeouts: 1 ms .. 24 h */
/* The largest unsigned integer any field may carry: 2^53-1. It is exact in
 * a double (JSON readers), fits PostgreSQL's bigint, and as milliseconds
 * stays inside PostgreSQL's timestamp range, so no value the codec accepts
 * can make the database refuse a batch. */
#define JC_MAX_UINT 9007199254740991ull

/* jc_guard never accepts more nesting than this (msgpack-c's own unpack
 * stack is 32 deep). */
#define JC_GUARD_MAX_DEPTH 32

/* jc_slice is a byte range inside a buffer owned by someone else. */
typedef struct jc_slice {
    const uint8_t *p;
    uint32_t n;
} jc_slice;

typedef enum jc_msg_type {
    JC_MSG_NONE = 0,
    JC_MSG_HEARTBEAT,    /* "heartbeat"     worker -> coordinator */
    JC_MSG_JOB_SUBMIT,   /* "job.submit"    client -> coordinator */
    JC_MSG_JOB_CANCEL,   /* "job.cancel"    client -> coordinator */
    JC_MSG_JOB_EVENT,    /* "job.event"     worker -> coordinator */
    JC_MSG_COMMAND,      /* "command"       coordinator -> worker */
    JC_MSG_COMMAND_ACK,  /* "command.ack"   worker -> coordinator */
    JC_MSG_JOB_UPDATE,   /* "job.update"    coordinator -> client */
    JC_MSG_WORKER_EVENT, /* "worker.event"  worker -> coordinator */
    JC_MSG_JOB_REFUSAL,  /* "job.refusal"   coordinator -> client (additive in version 1) */
    JC_MSG__COUNT
} jc_msg_type;

/* jc_msg_type_topic returns the topic suffix a type travels on
 * ("heartbeats"; the full name is the configured prefix + suffix), or NULL. */
const char *jc_msg_type_topic(jc_msg_type t);

/* jc_msg_type_name returns the wire name ("heartbeat"), or NULL. */
const char *jc_msg_type_name(jc_msg_type t);
/* jc_msg_type_parse maps a wire name to its type, JC_MSG_NONE if unknown. */
jc_msg_type jc_msg_type_parse(const uint8_t *s, size_t n);

typedef enum jc_job_event_kind {
    JC_EV_NONE = 0,
    JC_EV_ACCEPTED,
    JC_EV_STARTED,
    JC_EV_PROGRESS,
    JC_EV_LOG,
    JC_EV_SUCCEEDED,
    JC_EV_FAILED,
    JC_EV_CANCELED,
    JC_EV__COUNT
} jc_job_event_kind;
const char *jc_job_event_kind_name(jc_job_event_kind k);
/* jc_job_event_kind_parse maps a wire name to its kind, JC_EV_NONE if unknown. */
jc_job_event_kind jc_job_event_kind_parse(const uint8_t *s, size_t n);

typedef enum jc_command_kind {
    JC_CMD_NONE = 0,
    JC_CMD_ASSIGN,
    JC_CMD_CANCEL,
    JC_CMD_DRAIN,
    JC_CMD_UNDRAIN,
    JC_CMD_CONFIG,
    JC_CMD__COUNT
} jc_command_kind;
const char *jc_command_kind_name(jc_command_kind k);
/* jc_command_kind_parse maps a wire name to its kind, JC_CMD_NONE if unknown. */
jc_command_kind jc_command_kind_parse(const uint8_t *s, size_t n);

typedef struct jc_running_job {
    uint8_t job[JC_ID_LEN];
    uint32_t attempt;
} jc_running_job;

typedef struct jc_kv {
    jc_slice key, value;
} jc_kv;

/* Bodies. "has_" flags mark optional fields that were present. */
typedef struct jc_heartbeat {
    jc_slice *caps; /* n_caps entries */
    uint32_t n_caps;
    uint32_t slots;
    jc_running_job *running; /* n_running entries */
    uint32_t n_running;
    jc_slice version, host;
    uint64_t uptime_s;
    uint64_t seq; /* heartbeat number since the worker process started */
    int has_config_version;
    uint64_t config_version;
    int draining; /* the worker says it is draining */
} jc_heartbeat;

typedef struct jc_job_submit {
    uint8_t job[JC_ID_LEN];
    jc_slice type, payload;
    int32_t priority;      /* -1000..1000, default 0 */
    uint32_t max_attempts; /* 1..JC_MAX_ATTEMPTS, default 3 */
    int has_run_after;
    uint64_t run_after_ms; /* absolute, ms since the epoch */
    int has_timeout;
    uint32_t timeout_ms;
    jc_slice ikey; /* n == 0: none */
} jc_job_submit;

typedef struct jc_job_cancel {
    uint8_t job[JC_ID_LEN];
    jc_slice reason;
} jc_job_cancel;

typedef struct jc_job_event {
    uint8_t job[JC_ID_LEN];
    uint32_t attempt;
    jc_job_event_kind kind;
    int has_progress;
    uint32_t progress; /* 0..100 */
    jc_slice text;     /* log line / error / note */
    jc_slice stream;   /* log: "stdout" | "stderr" | "" */
    jc_slice result;   /* succeeded */
    int retryable;     /* failed */
    int has_command;
    uint8_t command[JC_ID_LEN]; /* the assign command this event answers */
} jc_job_event;

typedef struct jc_command {
    uint8_t command[JC_ID_LEN];
    jc_command_kind kind;
    jc_slice worker;
    /* assign and cancel */
    uint8_t job[JC_ID_LEN];
    uint32_t attempt;
    /* assign */
    jc_slice type, payload;
    uint32_t timeout_ms;
    /* cancel */
    jc_slice reason;
    /* config */
    uint64_t config_version;
    jc_kv *settings;
    uint32_t n_settings;
} jc_command;

typedef struct jc_command_ack {
    uint8_t command[JC_ID_LEN];
    int ok;
    jc_slice error;
} jc_command_ack;

typedef struct jc_job_update {
    uint8_t job[JC_ID_LEN];
    jc_slice state; /* pending|assigned|running|succeeded|failed|canceling|canceled */
    uint32_t attempt;
    jc_slice result, error, ikey;
    /* version 2 only, with state canceling or canceled only: the cancel
     * reason; n == 0: none. In version 1 it must be empty. */
    jc_slice reason;
} jc_job_update;

/* A job.refusal answers a job.submit or job.cancel the coordinator refused
 * (PROTOCOL.md section 7.9). */
typedef struct jc_job_refusal {
    uint8_t job[JC_ID_LEN];     /* the job the refused request named */
    uint8_t request[JC_ID_LEN]; /* "req": the refused message's id */
    jc_slice of;                /* "job.submit" | "job.cancel" */
    jc_slice reason;            /* a name: the rejection reason code */
    jc_slice text;              /* human detail; n == 0: none */
} jc_job_refusal;

typedef struct jc_worker_event_body {
    jc_slice level; /* debug|info|warn|error */
    jc_slice kind;
    jc_slice text;
    jc_kv *meta;
    uint32_t n_meta;
} jc_worker_event_body;

/* jc_msg is one decoded (or to-be-encoded) signed payload. */
typedef struct jc_msg {
    /* The protocol version of the envelope the payload travels in: set by
     * jc_msg_decode from the envelope's "v"; read by jc_msg_validate,
     * jc_msg_encode_signed and jc_msg_seal. 0 means JC_PROTO_VERSION (1),
     * so a zeroed message is version 1. */
    uint32_t version;
    jc_msg_type type;
    uint8_t id[JC_ID_LEN];
    uint64_t ts_ms;
    jc_slice principal;
    union {
        jc_heartbeat hb;
        jc_job_submit submit;
        jc_job_cancel cancel;
        jc_job_event event;
        jc_command cmd;
        jc_command_ack ack;
        jc_job_update update;
        jc_worker_event_body wevent;
        jc_job_refusal refusal;
    } u;
    msgpack_zone *zone_; /* owned; freed by jc_msg_release */
    msgpack_zone zone_storage_;
} jc_msg;

typedef struct jc_envelope {
    uint32_t version;
    jc_slice principal;
    jc_slice key_id;
    jc_slice signed_bytes;
    jc_slice mac;
} jc_envelope;

/* jc_guard pre-scans a msgpack document of len bytes without allocating.
 * It returns JC_OK when buf holds exactly one well-formed object whose
 * nesting is at most max_depth, whose total object count is at most
 * max_elements, and whose every container header asks for no more elements
 * than the bytes left could hold. Otherwise JC_ERR_MALFORMED (truncated,
 * trailing bytes, reserved type byte) or JC_ERR_LIMIT, with errstr.
 * max_depth must be 0..JC_GUARD_MAX_DEPTH (else JC_ERR_INVALID_ARG). */
jc_err_t jc_guard(const uint8_t *buf, size_t len, int max_depth, uint32_t max_elements,
                  char *errstr, size_t errstr_size);

/* jc_envelope_parse checks size (<= max_bytes, itself capped at
 * JC_MAX_MESSAGE_BYTES; 0 means the cap), pre-scans, and fills env with
 * slices into buf. It checks the version before anything else in the map, so
 * a future version is reported as JC_ERR_BAD_VERSION, not as a schema error;
 * every version from JC_PROTO_VERSION_MIN to JC_PROTO_VERSION_MAX is
 * accepted, and env->version says which. */
jc_err_t jc_envelope_parse(const uint8_t *buf, size_t len, size_t max_bytes, jc_envelope *env,
                           char *errstr, size_t errstr_size);

/* jc_envelope_verify returns JC_OK if env->mac is HMAC-SHA256(key,
 * env->signed_bytes), compared in constant time; else JC_ERR_BAD_SIGNATURE. */
jc_err_t jc_envelope_verify(const jc_envelope *env, const uint8_t key[JC_KEY_LEN]);

/* jc_msg_decode pre-scans and decodes env->signed_bytes into m and validates
 * every field against the schema, including that the signed principal equals
 * the envelope's. On success the caller must jc_msg_release(m); on failure m
 * holds nothing to release. */
jc_err_t jc_msg_decode(const jc_envelope *env, jc_msg *m, char *errstr, size_t errstr_size);

/* jc_msg_decode_reason is jc_msg_decode that also sets *reason (when not
 * NULL) on failure to the message's dead-letter reason code: that of
 * jc_err_reason(error), or "principal_mismatch" when the signed "p" differs
 * from the envelope's. The string is static. */
jc_err_t jc_msg_decode_reason(const jc_envelope *env, jc_msg *m, const char **reason,
                              char *errstr, size_t errstr_size);

/* jc_err_reason returns the stable dead-letter reason code (PROTOCOL.md,
 * "Error handling") for an error of jc_envelope_parse, jc_envelope_verify or
 * jc_msg_decode: "too_large", "malformed", "limit", "bad_version",
 * "bad_signature" or "schema"; NULL for errors the codec does not return. */
const char *jc_err_reason(jc_err_t err);

/* jc_msg_validate checks the values of m (ranges, lengths, counts, names,
 * UTF-8, the per-kind "only with" rules) exactly as jc_msg_decode does after
 * reading them. JC_ERR_SCHEMA, JC_ERR_TOO_LARGE or JC_ERR_INVALID_ARG (a
 * slice or array with a count but no pointer), with errstr. */
jc_err_t jc_msg_validate(const jc_msg *m, char *errstr, size_t errstr_size);

/* jc_msg_release frees what jc_msg_decode allocated. Safe on a zeroed jc_msg. */
void jc_msg_release(jc_msg *m);

/* jc_msg_encode_signed writes the canonical msgpack encoding of m's signed
 * payload into out (cleared first). Validates m against the schema as
 * jc_msg_decode would and refuses what the decoder would reject. */
jc_err_t jc_msg_encode_signed(const jc_msg *m, msgpack_sbuffer *out, char *errstr,
                              size_t errstr_size);

/* jc_envelope_seal builds a version 1 envelope around signed bytes:
 * computes the MAC with key and writes the canonical envelope into out
 * (cleared first). jc_envelope_seal_v writes version `version` (1..
 * JC_PROTO_VERSION_MAX, else JC_ERR_INVALID_ARG). */
jc_err_t jc_envelope_seal(const jc_slice *principal, const jc_slice *key_id,
                          const uint8_t key[JC_KEY_LEN], const uint8_t *signed_bytes,
                          size_t signed_len, msgpack_sbuffer *out);
jc_err_t jc_envelope_seal_v(uint32_t version, const jc_slice *principal, const jc_slice *key_id,
                            const uint8_t key[JC_KEY_LEN], const uint8_t *signed_bytes,
                            size_t signed_len, msgpack_sbuffer *out);

/* jc_msg_seal = jc_msg_encode_signed + jc_envelope_seal_v with m->version
 * and m->principal. */
jc_err_t jc_msg_seal(const jc_msg *m, const jc_slice *key_id, const uint8_t key[JC_KEY_LEN],
                     msgpack_sbuffer *out, char *errstr, size_t errstr_size);

/* jc_slice_str makes a slice of a NUL-terminated string (NULL -> empty). */
jc_slice jc_slice_str(const char *s);
/* jc_slice_eq compares a slice with a NUL-terminated string. */
int jc_slice_eq(jc_slice a, const char *s);

/* jc_principal_valid: 1..64 bytes of [A-Za-z0-9._:@-]. Same rule for key
 * ids, capabilities and job types (JC_MAX_NAME_LEN). */
int jc_name_valid(const uint8_t *p, size_t n, size_t max_len);
/* jc_principal_name_valid: 1 when s is a valid principal id or key id (a
 * name of at most JC_MAX_PRINCIPAL_LEN bytes), the rule every place that
 * takes one from a user or the wire applies. */
int jc_principal_name_valid(const char *s);

/* jc_id_random fills id with a random UUID (version 4, RFC 9562; libsodium). */
void jc_id_random(uint8_t id[JC_ID_LEN]);
/* jc_id_v7 fills id with a time-ordered UUID (version 7, RFC 9562): job ids,
 * so that ids made later sort later and index inserts stay at the end. */
void jc_id_v7(uint8_t id[JC_ID_LEN]);
/* jc_id_format writes the canonical UUID text form (36 chars + NUL). */
void jc_id_format(const uint8_t id[JC_ID_LEN], char out[37]);
/* jc_id_parse parses the UUID text form; 0 on success, -1 otherwise. */
int jc_id_parse(const char *s, uint8_t id[JC_ID_LEN]);
/* jc_id_text_valid: 1 when s is a UUID in text form (8-4-4-4-12 hex digits,
 * either case), the one check every id read from a user or a URL passes. */
int jc_id_text_valid(const char *s);

/* jc_now_ms returns wall-clock milliseconds since the epoch. */
uint64_t jc_now_ms(void);

/* Helpers shared by the proto_*.c files. */

/* jc_proto_errf formats into errstr when errstr_size > 0 (errstr may be NULL
 * when errstr_size is 0). */
void jc_proto_errf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* jc_proto_repr writes a printable, bounded rendering of untrusted bytes
 * (a map key, say) for error texts: non-printable bytes become '?', and a
 * cut is marked with "...". out_size must be at least 4. */
void jc_proto_repr(const void *p, size_t n, char *out, size_t out_size);
/* jc_utf8_valid returns 1 when p[0..n) is well-formed UTF-8 without NUL (no
 * overlong forms, no surrogates, nothing above U+10FFFF): PROTOCOL.md's
 * "text". The one UTF-8 check of the project. */
int jc_utf8_valid(const uint8_t *p, size_t n);
/* jc_utf8_char_len returns the length (1..4) of the well-formed character
 * at s[0..n), or 0 when the bytes there are not one (NUL, a truncated,
 * overlong or surrogate sequence, above U+10FFFF). */
size_t jc_utf8_char_len(const uint8_t *s, size_t n);

#endif /* JC_PROTO_H */
