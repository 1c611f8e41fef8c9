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

/* jc_worker_start starts the background thread that sends heartbeats. Call
 * once, from the thread that created the worker. */
JC_EXPORT jc_err_t jc_worker_start(jc_worker_t *w, char *errstr, size_t errstr_size);

/* jc_worker_heartbeat_now sends one heartbeat at once (and resets the
 * interval). Any thread. */
JC_EXPORT jc_err_t jc_worker_heartbeat_now(jc_worker_t *w);

/* jc_worker_heartbeats_sent returns how many heartbeats Kafka has confirmed
 * delivered. Any thread. */
JC_EXPORT uint64_t jc_worker_heartbeats_sent(const jc_worker_t *w);

/* jc_worker_stop stops the background thread, flushing what was produced for
 * up to timeout_ms. Safe to call from a signal-driven main loop (not from a
 * signal handler). Idempotent. */
JC_EXPORT jc_err_t jc_worker_stop(jc_worker_t *w, int timeout_ms);

/* jc_worker_destroy stops the worker if needed and frees it. NULL allowed. */
JC_EXPORT void jc_worker_destroy(jc_worker_t *w);

#ifdef __cplusplus
}
#endif
#endif /* JOBCOORD_H */
