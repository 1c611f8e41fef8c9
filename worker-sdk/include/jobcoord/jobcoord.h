/*
 * jobcoord.h - public API of libjobcoord, the jobcoord worker and client SDK.
 *
 * Conventions (they hold for every function below):
 *  - Handles are opaque; nothing in this header exposes a struct layout, so
 *    the ABI survives changes to the internals.
 *  - Functions that can fail return a jc_err_t and, where they take one, fill
 *    the caller's errstr buffer (always NUL-terminated) with human text.
 *  - A function that takes ownership of an argument says so; otherwise the
 *    caller keeps ownership and may free the argument after the call.
 *  - Once released, a function's signature never changes.
 */
#ifndef JOBCOORD_H
#define JOBCOORD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(JC_BUILDING_LIBRARY)
#define JC_EXPORT __attribute__((visibility("default")))
#else
#define JC_EXPORT
#endif

/* The library version as 0xMMmmpp (major, minor, patch). */
#define JC_VERSION_MAJOR 0
#define JC_VERSION_MINOR 1
#define JC_VERSION_PATCH 0
#define JC_VERSION ((JC_VERSION_MAJOR << 16) | (JC_VERSION_MINOR << 8) | JC_VERSION_PATCH)
#define JC_VERSION_STR "0.1.0"

/* jc_version returns the version of the library actually linked, as
 * "MAJOR.MINOR.PATCH". The string is static. Any thread. */
JC_EXPORT const char *jc_version(void);

/* jc_version_num returns JC_VERSION of the library actually linked. */
JC_EXPORT int jc_version_num(void);

/* Error codes. Values are stable: new codes are only ever appended. */
typedef enum jc_err {
    JC_OK = 0,
    JC_ERR_INVALID_ARG = 1,     /* a caller-supplied argument is invalid */
    JC_ERR_UNKNOWN_CONF = 2,    /* jc_conf_set: no such configuration key */
    JC_ERR_INVALID_CONF = 3,    /* jc_conf_set / *_new: bad value or missing key */
    JC_ERR_NOMEM = 4,           /* allocation failed */
    JC_ERR_KAFKA = 5,           /* Kafka client error (see errstr) */
    JC_ERR_TRANSPORT = 6,       /* temporary transport failure; retry */
    JC_ERR_TOO_LARGE = 7,       /* message or field over its size limit */
    JC_ERR_MALFORMED = 8,       /* input is not valid msgpack of the expected shape */
    JC_ERR_LIMIT = 9,           /* nesting depth or element count over its limit */
    JC_ERR_SCHEMA = 10,         /* a field is missing, of the wrong type or out of range */
    JC_ERR_BAD_VERSION = 11,    /* unsupported protocol version */
    JC_ERR_BAD_SIGNATURE = 12,  /* the MAC does not verify */
    JC_ERR_QUEUE_FULL = 13,     /* local queue full; retry after polling */
    JC_ERR_STATE = 14,          /* call not valid in the handle's current state */
    JC_ERR_IO = 15,             /* file or system error (see errstr) */
    JC_ERR_TIMED_OUT = 16,      /* an operation did not finish in time; retry */
    JC_ERR_AUTH = 17,           /* the server refused our credentials or request (see errstr) */
    JC_ERR_REFUSED = 18,        /* the coordinator refused a submission or cancel (reason given) */
    JC_ERR__END
} jc_err_t;

/* jc_err2str returns a static, human-readable description of err. */
JC_EXPORT const char *jc_err2str(jc_err_t err);

/* jc_err_name returns the stable symbolic name of err ("JC_ERR_SCHEMA"). */
JC_EXPORT const char *jc_err_name(jc_err_t err);

/* jc_error_is_retriable returns 1 when the operation that failed with err may
 * succeed if simply repeated later (transport trouble, full queues), else 0. */
JC_EXPORT int jc_error_is_retriable(jc_err_t err);

/*
 * Configuration: a set of key/value strings. Keys are documented in
 * docs/sdk.md; keys starting with "kafka." are handed to librdkafka with the
 * prefix removed.
 */
typedef struct jc_conf_s jc_conf_t;

/* jc_conf_new returns an empty configuration, or NULL when out of memory. */
JC_EXPORT jc_conf_t *jc_conf_new(void);

/* jc_conf_set sets name to value (copied). Returns JC_ERR_UNKNOWN_CONF for an
 * unknown name and JC_ERR_INVALID_CONF for a value of the wrong form; errstr
 * names the key. Not thread-safe on one conf. */
JC_EXPORT jc_err_t jc_conf_set(jc_conf_t *conf, const char *name, const char *value, char *errstr,
                               size_t errstr_size);

/* jc_conf_load_file applies a file of "name = value" lines (blank lines and
 * lines starting with '#' ignored) with jc_conf_set. On error errstr names
 * the file, line and key; settings before the bad line stay applied. */
JC_EXPORT jc_err_t jc_conf_load_file(jc_conf_t *conf, const char *path, char *errstr,
                                     size_t errstr_size);

/* jc_conf_get returns the value set for name or NULL. The string belongs to
 * conf and lives until the key is set again or conf is destroyed. */
JC_EXPORT const char *jc_conf_get(const jc_conf_t *conf, const char *name);

/* jc_conf_dup returns a deep copy of conf, or NULL when out of memory. */
JC_EXPORT jc_conf_t *jc_conf_dup(const jc_conf_t *conf);

/* jc_conf_destroy frees conf. Do not call it on a conf whose ownership passed
 * to a handle. NULL is allowed. */
JC_EXPORT void jc_conf_destroy(jc_conf_t *conf);

/*
 * Worker handle: connects to Kafka as a worker principal and sends signed
 * heartbeats (capabilities, slots, running jobs, version, host, uptime) on an
 * interval from its own background thread.
 *
 * Required keys: principal, key (base64 HMAC key) or key.file, key.id, and
 * either kafka.bootstrap.servers or bootstrap.file.
 */
typedef struct jc_worker_s jc_worker_t;

/* jc_worker_new creates a worker. On success it takes ownership of conf (do
 * not use or destroy it afterwards); on failure it returns NULL, conf still
 * belongs to the caller, and errstr says why. The worker does nothing until
 * jc_worker_start. */
JC_EXPORT jc_worker_t *jc_worker_new(jc_conf_t *conf, char *errstr, size_t errstr_size);

/* jc_worker_start starts the background threads: heartbeats, commands (its
 * consumer is created here: JC_ERR_KAFKA with errstr if it cannot be) and
 * `slots` job threads. Call once, from the thread that created the worker;
 * JC_ERR_STATE on a started or stopped worker. */
JC_EXPORT jc_err_t jc_worker_start(jc_worker_t *w, char *errstr, size_t errstr_size);

/* jc_worker_heartbeat_now sends one heartbeat at once (and resets the
 * interval). Any thread. */
JC_EXPORT jc_err_t jc_worker_heartbeat_now(jc_worker_t *w);

/* jc_worker_heartbeats_sent returns how many heartbeats Kafka has confirmed
 * delivered. Any thread. */
JC_EXPORT uint64_t jc_worker_heartbeats_sent(const jc_worker_t *w);

/* jc_worker_stop stops the worker at once: no new jobs, running jobs are
 * handed back as by jc_worker_shutdown(w, 0) (their handlers must then
 * return: it waits for them), the background threads stop, a last
 * heartbeat goes out, and what was produced is flushed for up to
 * timeout_ms. A stopped worker cannot be started again. Safe to call from a
 * signal-driven main loop (not from a signal handler). Idempotent. */
JC_EXPORT jc_err_t jc_worker_stop(jc_worker_t *w, int timeout_ms);

/* jc_worker_destroy stops the worker if needed and frees it. NULL allowed. */
JC_EXPORT void jc_worker_destroy(jc_worker_t *w);

/* jc_worker_commands_dropped returns how many records of the worker's
 * commands partition were not acted upon: not verifiable with the worker's
 * key, addressed to another worker, or duplicates of a command already
 * seen. Any thread. */
JC_EXPORT uint64_t jc_worker_commands_dropped(const jc_worker_t *w);

/* jc_worker_reload_key re-reads key.file now (it is also looked at every
 * key.reload.ms). A new key (first line "[KEY_ID ]BASE64") signs from then
 * on; the previous one still verifies commands until the coordinator has
 * switched to the new one, so a rotation needs no restart. JC_ERR_STATE if
 * the key was given inline; JC_ERR_IO or JC_ERR_INVALID_CONF with errstr if
 * the file cannot be used (the keys held are kept). Any thread. */
JC_EXPORT jc_err_t jc_worker_reload_key(jc_worker_t *w, char *errstr, size_t errstr_size);

/* jc_worker_key_rotations counts the new keys taken from key.file since
 * jc_worker_new. Any thread. */
JC_EXPORT uint64_t jc_worker_key_rotations(const jc_worker_t *w);


/*
 * Running jobs. A worker registers a handler per job type before
 * jc_worker_start; the coordinator's assign commands then run on a pool of
 * `slots` threads (never on the Kafka poll thread). The worker reads only
 * its own partition of the commands topic, verifies each command's
 * signature, drops duplicates by command id (acknowledging them again, without
 * acting twice) and acknowledges every command.
 *
 * A handler reports through its jc_job_t and must end the job with exactly
 * one of jc_job_succeed or jc_job_fail; a handler that returns without
 * either is reported as canceled if cancellation was asked, else as failed
 * (retryable) with the error "handler returned without a result". The
 * jc_job_t is valid until the handler returns. Threads: a handler runs on
 * one pool thread; the command thread runs cancel and config callbacks,
 * so keep those short.
 */
typedef struct jc_job_s jc_job_t;

/* jc_job_handler_fn runs one job on a pool thread. */
typedef void (*jc_job_handler_fn)(jc_job_t *job, void *opaque);

/* jc_worker_handle registers handler for job_type (a name, added to the
 * worker's capabilities). Call before jc_worker_start, from the creating
 * thread (JC_ERR_STATE after). Registering a type twice replaces the
 * handler; JC_ERR_LIMIT beyond 64 job types. An assign for a job type
 * without a handler is refused. */
JC_EXPORT jc_err_t jc_worker_handle(jc_worker_t *w, const char *job_type,
                                    jc_job_handler_fn handler, void *opaque);

/* jc_worker_on_config sets a callback that receives each new configuration
 * the coordinator sends (settings as n key/value pairs, valid during the
 * call), on the worker's command thread; heartbeats then report its
 * version. Call before jc_worker_start. */
typedef void (*jc_config_fn)(uint64_t version, const char *const *keys,
                             const char *const *values, size_t n, void *opaque);
JC_EXPORT jc_err_t jc_worker_on_config(jc_worker_t *w, jc_config_fn cb, void *opaque);

/* jc_worker_event publishes an event that belongs to no job (level: debug,
 * info, warn or error; kind: a name like "disk.low"; text: up to 4096 bytes
 * of UTF-8, may be NULL; meta: n key/value pairs, may be 0, up to 64, keys
 * names, values up to 1024 bytes). JC_ERR_SCHEMA or JC_ERR_TOO_LARGE for
 * values outside those limits. Any thread. */
JC_EXPORT jc_err_t jc_worker_event(jc_worker_t *w, const char *level, const char *kind,
                                   const char *text, const char *const *meta_keys,
                                   const char *const *meta_values, size_t n_meta);

/* jc_worker_shutdown is the graceful stop (what SIGTERM should trigger):
 * take no new jobs (assigns are refused, heartbeats say the worker
 * drains), let running handlers finish for up to grace_ms, hand back those
 * still running (reported failed, retryable, "worker shutting down"; they
 * are marked canceled and their cancel callbacks run on this thread), then
 * stop like jc_worker_stop (flushing for up to 5 s). Call from the creating
 * thread. */
JC_EXPORT jc_err_t jc_worker_shutdown(jc_worker_t *w, int grace_ms);

/* jc_worker_jobs_running returns how many handlers are running. Any thread. */
JC_EXPORT int jc_worker_jobs_running(const jc_worker_t *w);

/* Accessors of a running job; strings and payload live as long as the job.
 * The payload is followed by a NUL byte that len does not count, so a text
 * payload can be used as a C string. */
JC_EXPORT const char *jc_job_id(const jc_job_t *job); /* UUID text form */
JC_EXPORT const char *jc_job_type(const jc_job_t *job);
JC_EXPORT uint32_t jc_job_attempt(const jc_job_t *job);
JC_EXPORT const void *jc_job_payload(const jc_job_t *job, size_t *len);

/* jc_job_progress reports progress (0..100). Handler thread. Like every
 * report below: JC_ERR_STATE once the job ended (it succeeded, failed, or
 * was handed back at shutdown). */
JC_EXPORT jc_err_t jc_job_progress(jc_job_t *job, int percent);

/* jc_job_log reports one log line (stream: "stdout" or "stderr"; line cut
 * at 4096 bytes on a character boundary, invalid UTF-8 bytes replaced by
 * '?'). Handler thread. */
JC_EXPORT jc_err_t jc_job_log(jc_job_t *job, const char *stream, const char *line);

/* jc_job_succeed ends the job successfully with an optional result (up to
 * 256 KiB, copied; JC_ERR_TOO_LARGE beyond, and the job has not ended).
 * Handler thread; at most once per job. */
JC_EXPORT jc_err_t jc_job_succeed(jc_job_t *job, const void *result, size_t len);

/* jc_job_fail ends the job with an error (cut and cleaned like a log line;
 * may be NULL); retryable asks the coordinator to retry it (with backoff)
 * while attempts remain. Handler thread. */
JC_EXPORT jc_err_t jc_job_fail(jc_job_t *job, int retryable, const char *error);

/* jc_job_canceled returns 1 once the coordinator asked to cancel the job (or
 * the worker is shutting down past its grace period). Any thread. A
 * handler that notices it should stop and return; the SDK then reports the
 * job canceled unless it already ended. */
JC_EXPORT int jc_job_canceled(const jc_job_t *job);

/* jc_job_on_cancel sets a callback called once (on the command thread, or
 * on the thread that stops the worker) when cancellation is requested; if
 * it already was, it is called at once on the calling thread. It is never
 * called after the handler returned: the SDK waits for a call in progress
 * before it lets the job go. */
typedef void (*jc_cancel_fn)(jc_job_t *job, void *opaque);
JC_EXPORT void jc_job_on_cancel(jc_job_t *job, jc_cancel_fn cb, void *opaque);

/*
 * Client handle: submits and cancels jobs, and learns their outcome from the
 * coordinator's signed job updates (no database access needed).
 * Required keys as for a worker (principal with role client, key, key.id,
 * Kafka bootstrap). Every function below may be called from any thread.
 */
typedef struct jc_client_s jc_client_t;

/* jc_client_new creates a client; takes ownership of conf on success. It
 * reaches Kafka before it returns (up to 10 s): it starts reading its job
 * updates from the end of its partition, so no update produced after
 * jc_client_new returned is missed. */
JC_EXPORT jc_client_t *jc_client_new(jc_conf_t *conf, char *errstr, size_t errstr_size);

/* Submission options: a conf-like key/value set. NULL for defaults.
 *   priority         -1000..1000, higher runs first (default 0)
 *   max_attempts     1..100 (default 3)
 *   delay_ms         do not run before now + delay_ms (exclusive with run_at_ms)
 *   run_at_ms        do not run before this time, ms since the epoch
 *   timeout_ms       1..86400000, limit on one attempt's run time
 *   idempotency_key  1..128 bytes of UTF-8: one job per client and key
 *   job_id           the job id to use (UUID text, not all zero) instead of a
 *                    random one; submitting a known id again with the same
 *                    type, payload and options is answered with the job's
 *                    state, with anything else it is refused (job_exists)
 * jc_submit_opts_set returns JC_ERR_UNKNOWN_CONF for another name and
 * JC_ERR_INVALID_CONF for a bad value, with errstr. */
typedef struct jc_submit_opts_s jc_submit_opts_t;
JC_EXPORT jc_submit_opts_t *jc_submit_opts_new(void);
JC_EXPORT jc_err_t jc_submit_opts_set(jc_submit_opts_t *o, const char *name, const char *value,
                                      char *errstr, size_t errstr_size);
JC_EXPORT void jc_submit_opts_destroy(jc_submit_opts_t *o);

/* jc_client_submit sends a job.submit and waits (up to timeout_ms) until
 * Kafka acknowledged it. job_id_out receives the job id (37 bytes, UUID
 * text), chosen by the client. job_type is a name; payload up to 256 KiB.
 * The same idempotency key from the same client yields one job: the
 * coordinator answers with the existing job's id in a job update, and
 * jc_client_wait on the new id follows it. JC_ERR_TIMED_OUT means the
 * outcome is unknown: the job may still arrive (submit again with the
 * same idempotency key or job_id to be safe). A submission the coordinator
 * refuses is answered later: jc_client_wait returns JC_ERR_REFUSED. */
JC_EXPORT jc_err_t jc_client_submit(jc_client_t *c, const char *job_type, const void *payload,
                                    size_t len, const jc_submit_opts_t *opts, char job_id_out[37],
                                    int timeout_ms, char *errstr, size_t errstr_size);

/* jc_client_cancel asks the coordinator to cancel job_id (UUID text),
 * giving reason (up to 4096 bytes of UTF-8, may be NULL), and waits up to
 * timeout_ms until Kafka acknowledged the request. jc_client_cancel_wait
 * then learns the coordinator's answer. */
JC_EXPORT jc_err_t jc_client_cancel(jc_client_t *c, const char *job_id, const char *reason,
                                    int timeout_ms, char *errstr, size_t errstr_size);

/* jc_client_cancel_wait waits up to timeout_ms for the coordinator's answer
 * to the latest jc_client_cancel of job_id: JC_OK when it was accepted
 * (state_out, 16 bytes, gets the job's state: canceling or canceled);
 * JC_ERR_REFUSED when it was refused (state_out "refused", reason_out up to
 * reason_size bytes "<reason>: <text>", e.g. "not_owner: ..."); 
 * JC_ERR_TIMED_OUT when no answer came (the coordinator answers one
 * request per job within answers.interval_s; an older one answers none);
 * JC_ERR_STATE when this client sent no cancel of job_id. Outputs may be
 * NULL. */
JC_EXPORT jc_err_t jc_client_cancel_wait(jc_client_t *c, const char *job_id, int timeout_ms,
                                         char state_out[16], char *reason_out,
                                         size_t reason_size);

/* jc_client_wait waits up to timeout_ms for a final state (succeeded,
 * failed, canceled) of job_id, reading the client's job updates (the last
 * 65536 jobs' are kept). state_out (16 bytes) gets the state; *result_out
 * (malloc'd, caller frees with jc_free; NULL when there is none) and
 * *result_len the result; error_out (up to error_size bytes, cut) the
 * error text. Any output pointer may be NULL. If job_id was submitted with
 * an idempotency key that named an existing job, the existing job's final
 * state is returned. JC_ERR_REFUSED if the coordinator refused the
 * submission: state_out is "refused" and error_out "<reason>: <text>" (the
 * reason is a code of PROTOCOL.md section 9, e.g. disabled_principal,
 * key_expired, wrong_role, job_exists). JC_ERR_TIMED_OUT if no final state
 * came in time. */
JC_EXPORT jc_err_t jc_client_wait(jc_client_t *c, const char *job_id, int timeout_ms,
                                  char state_out[16], void **result_out, size_t *result_len,
                                  char *error_out, size_t error_size);

/* jc_client_cancel_reason copies into out (out_size bytes, cut, always
 * NUL-terminated) the cancel reason of job_id: the "reason" of the job
 * update jc_client_wait returns (its final state, following a repeated
 * idempotency key), or until that came, of job_id's latest update (e.g.
 * canceling). That field exists in protocol version 2 (PROTOCOL.md section
 * 15.5): the client's or an operator's reason, else "canceled by the
 * submitter". out is "" when the update carried none: the job was not
 * canceled, its cancel had no reason, or the coordinator spoke version 1,
 * where the cancel reason is the error text jc_client_wait returns. JC_OK;
 * JC_ERR_STATE when no update of job_id has arrived; JC_ERR_INVALID_ARG.
 * Any thread. */
JC_EXPORT jc_err_t jc_client_cancel_reason(jc_client_t *c, const char *job_id, char *out,
                                           size_t out_size);

/* jc_client_job_of writes to out (37 bytes) the id of the job whose final
 * state answers job_id: job_id itself, or, when its submission repeated an
 * idempotency key, the existing job the coordinator reported instead.
 * JC_ERR_STATE until jc_client_wait has seen that final state. Any thread. */
JC_EXPORT jc_err_t jc_client_job_of(jc_client_t *c, const char *job_id, char out[37]);

/* jc_free frees memory the library returned. */
JC_EXPORT void jc_free(void *p);

/* jc_client_updates_dropped returns how many records of the client's job
 * updates partition were ignored: not verifiable with the client's key or
 * addressed to another principal. */
JC_EXPORT uint64_t jc_client_updates_dropped(const jc_client_t *c);

/* jc_client_reload_key and jc_client_key_rotations: as jc_worker_reload_key
 * and jc_worker_key_rotations, for a client. Any thread. */
JC_EXPORT jc_err_t jc_client_reload_key(jc_client_t *c, char *errstr, size_t errstr_size);
JC_EXPORT uint64_t jc_client_key_rotations(const jc_client_t *c);

/* jc_client_destroy flushes (up to 5 s) and frees the client. NULL allowed. */
JC_EXPORT void jc_client_destroy(jc_client_t *c);

/*
 * Access tokens (OAuth 2 client credentials, RFC 6749 4.4). A token source
 * gets access tokens for the configured principal from the coordinator's
 * token endpoint, POST <token.url>/v1/token. It authenticates with a JWT
 * signed with the principal's HMAC key (client_secret_jwt, RFC 7523: the
 * key itself is never sent; each assertion lives 60 s and has a new random
 * jti), and caches each token until it is about to expire. Use the tokens
 * as "Authorization: Bearer <token>" on the coordinator's HTTP API. Kafka
 * handles (worker, client) fetch and refresh their own tokens when
 * kafka.sasl.mechanism is OAUTHBEARER: see docs/sdk.md.
 *
 * Keys: principal, key.id, key or key.file (as for a worker), and
 *   token.url                http[s]://host[:port][/prefix]: the
 *                            coordinator's public base URL (required);
 *                            https certificates and host names are
 *                            always verified; proxies are taken from the
 *                            environment (http_proxy, https_proxy,
 *                            no_proxy...), redirects are not followed
 *   token.scope              space-separated scopes to ask for (default:
 *                            the coordinator grants the principal's)
 *   token.audience           the assertion's aud (default token.url +
 *                            "/v1/token")
 *   token.refresh.margin.ms  fetch a new token when less than this remains
 *                            (at most half the token's lifetime; 60000)
 *   token.timeout.ms         limit on one request, name resolution to
 *                            last byte (100..600000; 10000)
 *   token.tls.ca.file        PEM file of the CAs to verify https token
 *                            endpoints against, instead of the system's
 *                            (must be readable: JC_ERR_IO otherwise)
 */
#define JC_TOKEN_MAX_LEN 8192 /* the longest access token accepted */

typedef struct jc_token_source_s jc_token_source_t;

/* jc_token_source_new makes a token source from conf; conf stays the
 * caller's (what is needed is copied). Nothing is fetched yet. On success
 * *out is set; JC_ERR_INVALID_CONF (missing or bad key) or JC_ERR_IO
 * (key.file unreadable) with errstr otherwise. */
JC_EXPORT jc_err_t jc_token_source_new(const jc_conf_t *conf, jc_token_source_t **out,
                                       char *errstr, size_t errstr_size);

/* jc_token_get copies a valid access token into out (NUL-terminated; an
 * out_size of JC_TOKEN_MAX_LEN + 1 always suffices, else JC_ERR_TOO_LARGE)
 * and its expiry, in ms since the epoch, into *expires_at_ms (may be NULL).
 * The cached token is returned while more than the refresh margin remains;
 * otherwise a new one is fetched, which may block up to token.timeout.ms.
 * If that fetch fails while the cached token is still valid for more than
 * a second, the cached token is returned (JC_OK) and the fetch is tried
 * again at a later call, at most once a second.
 * Errors: JC_ERR_AUTH (the coordinator refused; errstr carries its error
 * code and error_description), JC_ERR_TRANSPORT or JC_ERR_TIMED_OUT
 * (retriable: connection trouble, HTTP 5xx), JC_ERR_MALFORMED (not a
 * token answer), JC_ERR_TOO_LARGE (answer over 64 KiB, or out too small).
 * Any thread: calls on one source are serialised, so one fetch serves
 * every caller waiting for it. */
JC_EXPORT jc_err_t jc_token_get(jc_token_source_t *ts, char *out, size_t out_size,
                                int64_t *expires_at_ms, char *errstr, size_t errstr_size);

/* jc_token_scope copies the scope the coordinator granted with the current
 * token into out ("" when it named none, or before the first token).
 * JC_ERR_TOO_LARGE when out is too small. Any thread. */
JC_EXPORT jc_err_t jc_token_scope(jc_token_source_t *ts, char *out, size_t out_size);

/* jc_token_invalidate forgets the cached token, so the next jc_token_get
 * fetches a new one: call it when a server refused the token before its
 * expiry (revoked, or its signing key retired). Any thread. */
JC_EXPORT void jc_token_invalidate(jc_token_source_t *ts);

/* jc_token_source_destroy wipes the cached token and frees ts. No call on
 * ts may be in progress. NULL allowed. */
JC_EXPORT void jc_token_source_destroy(jc_token_source_t *ts);

#ifdef __cplusplus
}
#endif
#endif /* JOBCOORD_H */
