/*
 * config.c - the coordinator's configuration, driven by one table.
 *
 * JC_CONFIG_TABLE below lists every key once: its dotted name, type,
 * default, range (ints) or allowed values (enumerated strings), one sentence
 * of documentation and the field of jc_config it fills. Types are "int",
 * "string" and "bool" (true or false; its field is an int, 0 or 1). The
 * public key list (jc_config_keys), the field offsets, the defaults, the
 * libconfig file walker, the JOBCOORD_* environment and jc_config_set are
 * all generated from it, so a key added there is parsed, validated and
 * documented everywhere at once.
 *
 * Every value, wherever it comes from, goes through set_string, set_int or
 * set_bool, after checks of the type and range that name the key (and its
 * origin: file and line, environment variable) in the error.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>

/* X(name, type, field, default, min, max, choices, doc) */
#define JC_CONFIG_TABLE(X)                                                                         \
    X("log.level", "string", log_level, "info", 0, 0, "debug|info|warn|error",                     \
      "Lowest level of log records written to stderr.")                                            \
    X("log.format", "string", log_format, "text", 0, 0, "text|json",                               \
      "Log record format: human-readable text or one JSON object per line.")                       \
    X("log.rejection_interval_s", "int", log_rejection_interval_s, "60", 1, 86400, NULL,           \
      "A rejected message is logged once per rejection reason and principal per this many"         \
      " seconds; the lines left out are counted and the count logged when it ends.")               \
    X("database.conninfo", "string", db_conninfo, "dbname=jobcoord", 0, 0, NULL,                   \
      "libpq connection string (key=value pairs or a postgresql:// URI).")                         \
    X("kafka.brokers", "string", kafka_brokers, "", 0, 0, NULL,                                    \
      "Kafka bootstrap servers; empty runs librdkafka's embedded mock cluster.")                   \
    X("kafka.topic_prefix", "string", topic_prefix, "jobcoord.", 0, 0, NULL,                       \
      "Prefix of every topic name.")                                                               \
    X("kafka.group_id", "string", group_id, "jobcoord", 0, 0, NULL,                                \
      "Consumer group of the coordinator instances.")                                              \
    X("kafka.bootstrap_file", "string", bootstrap_file, "jobcoord-kafka.bootstrap", 0, 0, NULL,    \
      "File where the embedded cluster's address is written, and read by workers.")                \
    X("kafka.partitions", "int", kafka_partitions, "4", 1, 256, NULL,                              \
      "Partitions of each topic the embedded cluster creates.")                                    \
    X("kafka.session_timeout_ms", "int", session_timeout_ms, "10000", 1000, 300000, NULL,          \
      "Consumer group session timeout in milliseconds.")                                           \
    X("kafka.fetch_wait_max_ms", "int", fetch_wait_max_ms, "100", 1, 10000, NULL,                  \
      "Longest time the consumer's fetch waits at the broker for data (fetch.wait.max.ms).")       \
    X("kafka.properties", "string", kafka_properties, "", 0, 0, NULL,                              \
      "Extra librdkafka properties, comma-separated k=v pairs.")                                   \
    X("ingest.batch_max_messages", "int", batch_max_messages, "1000", 1, 10000, NULL,              \
      "Most messages applied in one PostgreSQL transaction.")                                      \
    X("ingest.batch_max_ms", "int", batch_max_ms, "20", 1, 10000, NULL,                            \
      "Longest time in milliseconds a batch waits to fill before it is applied.")                  \
    X("ingest.max_message_bytes", "int", max_message_bytes, "1048576", 256, 1048576, NULL,         \
      "Largest message accepted; bigger ones are rejected unread.")                                \
    X("ingest.heartbeat_max_age_s", "int", heartbeat_max_age_s, "300", 1, 86400, NULL,             \
      "Heartbeats signed this many seconds before their record's timestamp are dropped.")          \
    X("ingest.heartbeat_max_future_s", "int", heartbeat_max_future_s, "60", 0, 3600, NULL,         \
      "Heartbeats signed this many seconds after the time they are judged by (the broker's"        \
      " LogAppendTime, else the time the coordinator received them) are dropped.")                 \
    X("ingest.max_future_s", "int", max_future_s, "300", 0, 86400, NULL,                           \
      "Other messages signed this many seconds after the time they are judged by are"              \
      " rejected (future).")                                                                       \
    X("ingest.key_cache_ttl_ms", "int", key_cache_ttl_ms, "2000", 0, 600000, NULL,                 \
      "How long principals' keys are cached before being read again from PostgreSQL.")             \
    X("janitor.interval_ms", "int", janitor_interval_ms, "1000", 50, 600000, NULL,                 \
      "Period of the janitor's pass in milliseconds.")                                             \
    X("janitor.worker_offline_after_s", "int", worker_offline_after_s, "30", 1, 86400, NULL,       \
      "Seconds without a heartbeat after which a worker is marked offline.")                       \
    X("janitor.heartbeat_retention_s", "int", heartbeat_retention_s, "604800", 60, 31536000, NULL, \
      "Seconds applied heartbeats are kept in the heartbeats table.")                              \
    X("janitor.expired_key_retention_s", "int", expired_key_retention_s, "86400", 0, 31536000,     \
      NULL,                                                                                        \
      "Rotated-out HMAC keys are deleted this many seconds after their grace period"               \
      " ended (the current key is always kept).")                                                  \
    X("janitor.audit_retention_s", "int", audit_retention_s, "31536000", 0, 315360000, NULL,       \
      "Audit trail entries are deleted this many seconds after they were written; 0 keeps"         \
      " them forever.")                                                                            \
    X("jobs.default_timeout_ms", "int", default_timeout_ms, "3600000", 1, 86400000, NULL,          \
      "Timeout of a job whose submission names none: longest time without progress.")              \
    X("jobs.assign_timeout_ms", "int", assign_timeout_ms, "30000", 100, 3600000, NULL,             \
      "An assigned job not started within this many milliseconds is requeued.")                    \
    X("jobs.max_run_time_ms", "int", max_run_time_ms, "0", 0, 604800000, NULL,                     \
      "Hard limit on one attempt, from its assignment, whatever its progress: the job is"          \
      " taken back and its worker sent a cancel; 0: no limit.")                                    \
    X("jobs.unacked_assign_limit", "int", unacked_assign_limit, "3", 0, 1000, NULL,                \
      "A worker that left this many assigns in a row unacknowledged is not chosen again"           \
      " until it acknowledges a command; 0: never held back.")                                     \
    X("jobs.cancel_timeout_ms", "int", cancel_timeout_ms, "30000", 100, 3600000, NULL,             \
      "A canceling job the worker does not confirm within this time is canceled anyway.")          \
    X("jobs.reconcile_grace_ms", "int", reconcile_grace_ms, "10000", 0, 3600000, NULL,             \
      "A running job missing from its worker's heartbeats is taken back, and a job a worker"       \
      " lists after its attempt ended is answered with a cancel, only after this long.")           \
    X("jobs.retry_backoff_ms", "int", retry_backoff_ms, "1000", 0, 3600000, NULL,                  \
      "Delay before the first retry of a retryable failure; doubles each attempt, +-50%.")         \
    X("jobs.retry_backoff_max_ms", "int", retry_backoff_max_ms, "300000", 0, 86400000, NULL,       \
      "Longest delay between retries.")                                                            \
    X("jobs.max_refusals", "int", max_refusals, "10", 0, 99, NULL,                                 \
      "Refused assignments (command.ack ok:false) a job takes before it fails; they do not"        \
      " count as attempts.")                                                                       \
    X("jobs.refusal_skip_s", "int", refusal_skip_s, "60", 0, 86400, NULL,                          \
      "A worker that refused a job is not offered that job again for this many seconds.")          \
    X("jobs.unschedulable_after_s", "int", unschedulable_after_s, "0", 0, 31536000, NULL,          \
      "A pending job whose type no online worker has advertised for this many seconds fails"       \
      " (unschedulable); 0: it waits.")                                                            \
    X("jobs.retention_s", "int", job_retention_s, "604800", 60, 315360000, NULL,                   \
      "Finished jobs and their history are deleted this many seconds after they finished.")        \
    X("scheduler.batch", "int", schedule_batch, "10000", 1, 10000, NULL,                           \
      "Most jobs assigned in one scheduling pass (each ingest transaction and janitor pass"        \
      " runs one). Below the fleet's free slots it caps the jobs in flight: see"                   \
      " docs/performance.md.")                                                                     \
    X("outbox.resend_ms", "int", outbox_resend_ms, "2000", 10, 600000, NULL,                       \
      "A command not acknowledged within this time is sent again (doubling, up to 60 s;"           \
      " later while ingest is more than this behind in reading its topics).")                      \
    X("outbox.max_tries", "int", outbox_max_tries, "8", 1, 1000, NULL,                             \
      "A command sent this many times without an acknowledgement is marked failed.")               \
    X("outbox.batch", "int", outbox_batch, "1000", 1, 10000, NULL,                                 \
      "Most outbox rows the relay produces per round.")                                            \
    X("answers.interval_s", "int", answers_interval_s, "10", 1, 86400, NULL,                       \
      "A client's request naming the same job is answered at most once within this many"           \
      " seconds (refusals, repeated submissions, cancels).")                                       \
    X("answers.max_per_interval", "int", answers_max, "100", 0, 100000, NULL,                      \
      "Most answers sent to one principal within answers.interval_s; 0 answers nothing.")          \
    X("http.listen", "string", http_listen, "", 0, 0, NULL,                                        \
      "IPv4 address:port of the HTTP surface (health, readiness, metrics); empty: off.")           \
    X("http.threads", "int", http_threads, "2", 1, 64, NULL, "Threads serving HTTP requests.")     \
    X("http.connection_timeout_s", "int", http_timeout_s, "10", 1, 3600, NULL,                     \
      "An idle HTTP connection is closed after this many seconds.")                                \
    X("http.request_deadline_s", "int", http_request_deadline_s, "10", 1, 3600, NULL,              \
      "A request must arrive whole (headers and body) within this time, sent slowly or not.")      \
    X("http.busy_request_deadline_ms", "int", http_busy_deadline_ms, "1000", 100, 600000, NULL,    \
      "The same deadline once 3/4 of http.max_connections are open (keeps room).")                 \
    X("http.max_connections", "int", http_max_connections, "256", 1, 65536, NULL,                  \
      "Most HTTP connections at once.")                                                            \
    X("http.max_connections_per_ip", "int", http_max_per_ip, "32", 1, 65536, NULL,                 \
      "Most HTTP connections at once from one IP address.")                                        \
    X("http.connection_memory_limit", "int", http_memory_limit, "65536", 4096, 16777216, NULL,     \
      "Bytes of memory one HTTP connection may use (request line and headers).")                   \
    X("http.max_body_bytes", "int", http_max_body, "16384", 256, 1048576, NULL,                    \
      "Largest request body accepted (token and revoke forms); larger gets 413.")                  \
    X("http.public_url", "string", http_public_url, "", 0, 0, NULL,                                \
      "Base URL clients reach the HTTP surface at; empty: http://<http.listen>.")                  \
    X("tokens.issuer", "string", token_issuer, "", 0, 0, NULL,                                     \
      "iss of issued access tokens; empty: http.public_url.")                                      \
    X("tokens.audience", "string", token_audience, "jobcoord", 0, 0, NULL,                         \
      "aud of issued access tokens (checked on every bearer token).")                              \
    X("tokens.access_ttl_s", "int", access_ttl_s, "900", 10, 86400, NULL,                          \
      "Lifetime of access tokens, seconds.")                                                       \
    X("tokens.refresh_ttl_s", "int", refresh_ttl_s, "1209600", 60, 31536000, NULL,                 \
      "Lifetime of refresh tokens (password logins), seconds.")                                    \
    X("tokens.assertion_max_lifetime_s", "int", assertion_max_lifetime_s, "300", 10, 3600, NULL,   \
      "Longest exp - iat a client_secret_jwt assertion may have, seconds.")                        \
    X("tokens.clock_skew_s", "int", clock_skew_s, "30", 0, 600, NULL,                              \
      "Clock skew tolerated when checking exp, iat and nbf, seconds.")                             \
    X("tokens.signing_key_grace_s", "int", signing_key_grace_s, "3600", 0, 31536000, NULL,         \
      "Default time a rotated-out signing key still verifies (at least tokens.access_ttl_s).")     \
    X("tokens.key_reload_ms", "int", key_reload_ms, "5000", 100, 600000, NULL,                     \
      "How often the HTTP surface re-reads signing keys (to see rotations).")                      \
    X("auth.login_max_failures", "int", login_max_failures, "5", 1, 1000, NULL,                    \
      "Consecutive failed password logins that lock an account.")                                  \
    X("auth.lockout_s", "int", lockout_s, "900", 1, 86400, NULL,                                   \
      "How long a locked account stays locked, seconds.")                                          \
    X("auth.max_concurrent_hashes", "int", max_concurrent_hashes, "2", 1, 64, NULL,                \
      "Threads computing password hashes (Argon2id, 64 MiB each), apart from http.threads.")       \
    X("auth.max_queued_logins", "int", max_queued_logins, "64", 1, 4096, NULL,                     \
      "Password logins waiting for a hashing thread; more (or one waiting 10 s) get 503.")         \
    X("auth.max_key_age_s", "int", max_key_age_s, "0", 0, 316224000, NULL,                         \
      "HMAC keys older than this are refused like rotated-out ones, seconds; 0: no limit.")        \
    X("auth.key_age_warn_s", "int", key_age_warn_s, "0", 0, 316224000, NULL,                       \
      "Warn of keys this close to auth.max_key_age_s, seconds; 0: a tenth of it.")                 \
    X("auth.token_rate_per_min", "int", token_rate_per_min, "60", 0, 1000000, NULL,                \
      "Requests to POST /v1/token one client address may make per minute once its burst is"        \
      " spent (429 with Retry-After beyond); 0: no per-address throttling.")                       \
    X("auth.token_burst", "int", token_burst, "20", 1, 100000, NULL,                               \
      "Requests to POST /v1/token one client address may make at once before"                      \
      " auth.token_rate_per_min applies.")                                                         \
    X("auth.totp_required_roles", "string", totp_required_roles, "", 0, 0,                         \
      "|admin|reader|admin,reader|reader,admin",                                                   \
      "Roles whose principals log in with a password only with a confirmed TOTP second"            \
      " factor (comma-separated); empty: none.")                                                   \
    X("auth.bootstrap_admin", "string", bootstrap_admin, "admin", 0, 0, NULL,                      \
      "At first start with no admin: the admin to create (needs auth.bootstrap_password).")        \
    X("auth.bootstrap_password", "string", bootstrap_password, "", 0, 0, NULL,                     \
      "Password of that first admin (prefer JOBCOORD_AUTH_BOOTSTRAP_PASSWORD).")                   \
    X("security.keys_file", "string", keys_file, "", 0, 0, NULL,                                   \
      "Keys file sealing secrets at rest (HMAC keys, token signing keys, TOTP secrets).")          \
    X("security.encryption_key_id", "string", encryption_key_id, "", 0, 0, NULL,                   \
      "Id of the keys-file key new secrets are sealed with.")                                      \
    X("security.allow_plaintext", "bool", allow_plaintext, "false", 0, 1, NULL,                    \
      "Without a keys file, store new secrets in plain text (with a warning) instead of"           \
      " refusing to.")                                                                             \
    X("instance.id", "string", instance_id, "", 0, 0, NULL,                                        \
      "Name of this coordinator instance; empty uses hostname:pid.")

#define AS_KEY(name, type, field, def, min, max, choices, doc) {name, type, def, min, max, doc},
#define AS_OFFSET(name, type, field, def, min, max, choices, doc) offsetof(jc_config, field),
#define AS_CHOICES(name, type, field, def, min, max, choices, doc) choices,

static const jc_config_key config_keys[] = {JC_CONFIG_TABLE(AS_KEY)};
static const size_t config_offsets[] = {JC_CONFIG_TABLE(AS_OFFSET)};
static const char *const config_choices[] = {JC_CONFIG_TABLE(AS_CHOICES)};

#define N_KEYS (sizeof config_keys / sizeof config_keys[0])

const jc_config_key *jc_config_keys(size_t *n)
{
    if (n)
        *n = N_KEYS;
    return config_keys;
}

/* find_key returns the table index of name, or -1. */
static int find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(config_keys[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* is_int_key tells whether key k holds an integer, is_bool_key a boolean
 * (stored as an int 0 or 1); any other key holds a string. */
static int is_int_key(int k)
{
    return strcmp(config_keys[k].type, "int") == 0;
}

static int is_bool_key(int k)
{
    return strcmp(config_keys[k].type, "bool") == 0;
}

/* type_words says what a value of key k must be, for error messages. */
static const char *type_words(int k)
{
    return is_int_key(k) ? "an integer" : is_bool_key(k) ? "true or false" : "a string";
}

/* string_field and int_field locate key k's member of cfg. */
static char **string_field(jc_config *cfg, int k)
{
    return (char **)((char *)cfg + config_offsets[k]);
}

static int *int_field(jc_config *cfg, int k)
{
    return (int *)((char *)cfg + config_offsets[k]);
}

/* choice_ok tells whether value is one of the '|'-separated choices. */
static int choice_ok(const char *choices, const char *value)
{
    size_t len = strlen(value);
    const char *p = choices;

    while (*p) {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, value, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* set_string stores a copy of value into string key k. origin, such as
 * " (file.conf:3)", ends the error message. */
static int set_string(jc_config *cfg, int k, const char *value, const char *origin, char *errstr,
                      size_t errstr_size)
{
    char **field = string_field(cfg, k);
    char *copy;

    if (config_choices[k] && !choice_ok(config_choices[k], value)) {
        snprintf(errstr, errstr_size, "key '%s' must be one of %s, not '%s'%s",
                 config_keys[k].name, config_choices[k], value, origin);
        return -1;
    }
    copy = strdup(value);
    if (!copy) {
        snprintf(errstr, errstr_size, "key '%s': out of memory", config_keys[k].name);
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

/* set_int stores v into int key k after checking its range. */
static int set_int(jc_config *cfg, int k, long long v, const char *origin, char *errstr,
                   size_t errstr_size)
{
    if (v < config_keys[k].min || v > config_keys[k].max) {
        snprintf(errstr, errstr_size, "key '%s' = %lld is out of range %ld..%ld%s",
                 config_keys[k].name, v, config_keys[k].min, config_keys[k].max, origin);
        return -1;
    }
    *int_field(cfg, k) = (int)v;
    return 0;
}

/* set_bool stores v (0 or 1) into bool key k. */
static void set_bool(jc_config *cfg, int k, int v)
{
    *int_field(cfg, k) = v ? 1 : 0;
}

/* parse_int reads a whole decimal integer: no blanks, no trailing junk. */
static int parse_int(const char *text, long long *out)
{
    char *end = NULL;
    long long v;

    if (!*text || isspace((unsigned char)*text))
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* set_text sets key k from its textual form (defaults, environment, --set). */
static int set_text(jc_config *cfg, int k, const char *value, const char *origin, char *errstr,
                    size_t errstr_size)
{
    long long v;

    if (is_bool_key(k)) {
        /* the words libconfig accepts for a boolean, in any case */
        if (strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0) {
            snprintf(errstr, errstr_size, "key '%s' must be true or false, not '%s'%s",
                     config_keys[k].name, value, origin);
            return -1;
        }
        set_bool(cfg, k, strcasecmp(value, "true") == 0);
        return 0;
    }
    if (!is_int_key(k))
        return set_string(cfg, k, value, origin, errstr, errstr_size);
    if (parse_int(value, &v) != 0) {
        snprintf(errstr, errstr_size, "key '%s' must be an integer, not '%s'%s",
                 config_keys[k].name, value, origin);
        return -1;
    }
    return set_int(cfg, k, v, origin, errstr, errstr_size);
}

int jc_config_init(jc_config *cfg)
{
    char errstr[128];

    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_KEYS; i++) {
        if (set_text(cfg, (int)i, config_keys[i].def, "", errstr, sizeof errstr) != 0) {
            jc_config_free(cfg);
            return -1;
        }
    }
    return 0;
}

/* apply_setting applies one scalar libconfig setting whose dotted path is
 * path, or explains why it cannot. */
static int apply_setting(jc_config *cfg, const config_setting_t *s, const char *path,
                         const char *origin, char *errstr, size_t errstr_size)
{
    int k = find_key(path);
    int type = config_setting_type(s);

    if (k < 0) {
        snprintf(errstr, errstr_size, "unknown key '%s'%s", path, origin);
        return -1;
    }
    if (is_int_key(k)) {
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
            snprintf(errstr, errstr_size, "key '%s' must be an integer%s", path, origin);
            return -1;
        }
        return set_int(cfg, k, config_setting_get_int64(s), origin, errstr, errstr_size);
    }
    if (is_bool_key(k)) {
        if (type != CONFIG_TYPE_BOOL) {
            snprintf(errstr, errstr_size, "key '%s' must be true or false%s", path, origin);
            return -1;
        }
        set_bool(cfg, k, config_setting_get_bool(s));
        return 0;
    }
    if (type != CONFIG_TYPE_STRING) {
        snprintf(errstr, errstr_size, "key '%s' must be a string%s", path, origin);
        return -1;
    }
    return set_string(cfg, k, config_setting_get_string(s), origin, errstr, errstr_size);
}

/* has_prefix_key tells whether some key lies below the group path. */
static int has_prefix_key(const char *path)
{
    size_t len = strlen(path);

    for (size_t i = 0; i < N_KEYS; i++) {
        if (strncmp(config_keys[i].name, path, len) == 0 && config_keys[i].name[len] == '.')
            return 1;
    }
    return 0;
}

/* walk_group applies every setting below group g, whose dotted path is
 * prefix ("" for the root). Anything the table does not know is an error. */
static int walk_group(jc_config *cfg, const config_setting_t *g, const char *prefix,
                      const char *file, char *errstr, size_t errstr_size)
{
    int n = config_setting_length(g);
    int rc = 0;

    for (int i = 0; i < n && rc == 0; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
        const char *sfile = config_setting_source_file(s);
        char path[256];
        char origin[PATH_MAX + 32];
        int k;

        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "",
                 config_setting_name(s) ? config_setting_name(s) : "?");
        snprintf(origin, sizeof origin, " (%s:%u)", sfile ? sfile : file,
                 config_setting_source_line(s));
        k = find_key(path);

        if (config_setting_is_group(s) && k < 0 && has_prefix_key(path)) {
            rc = walk_group(cfg, s, path, file, errstr, errstr_size);
        } else if (config_setting_is_aggregate(s)) {
            if (k < 0)
                snprintf(errstr, errstr_size, "unknown key '%s'%s", path, origin);
            else
                snprintf(errstr, errstr_size, "key '%s' must be %s, not a group or list%s",
                         path, type_words(k), origin);
            rc = -1;
        } else {
            rc = apply_setting(cfg, s, path, origin, errstr, errstr_size);
        }
    }
    return rc;
}

int jc_config_load_file(jc_config *cfg, const char *path, char *errstr, size_t errstr_size)
{
    config_t lc;
    FILE *f;
    int rc = -1;

    /* libconfig does not say why a file cannot be read: ask fopen first. */
    f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot read config file '%s': %s", path, strerror(errno));
        return -1;
    }
    fclose(f);

    config_init(&lc);
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        const char *efile = config_error_file(&lc);
        snprintf(errstr, errstr_size, "%s:%d: %s", efile ? efile : path, config_error_line(&lc),
                 config_error_text(&lc));
        goto out;
    }
    rc = walk_group(cfg, config_root_setting(&lc), "", path, errstr, errstr_size);
out:
    config_destroy(&lc);
    return rc;
}

/* env_name writes JOBCOORD_<NAME> for a key: upper case, '.' -> '_'. */
static void env_name(const char *key, char *out, size_t out_size)
{
    size_t n = (size_t)snprintf(out, out_size, "JOBCOORD_");

    for (const char *p = key; *p && n + 1 < out_size; p++)
        out[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[n < out_size ? n : out_size - 1] = '\0';
}

int jc_config_load_env(jc_config *cfg, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        char var[96];
        char origin[128];
        const char *value;

        env_name(config_keys[i].name, var, sizeof var);
        value = getenv(var);
        if (!value)
            continue;
        snprintf(origin, sizeof origin, " (environment %s)", var);
        if (set_text(cfg, (int)i, value, origin, errstr, errstr_size) != 0)
            return -1;
    }
    return 0;
}

int jc_config_set(jc_config *cfg, const char *name, const char *value, char *errstr,
                  size_t errstr_size)
{
    int k = find_key(name);

    if (k < 0) {
        snprintf(errstr, errstr_size, "unknown key '%s'", name);
        return -1;
    }
    return set_text(cfg, k, value, "", errstr, errstr_size);
}

int jc_config_load(jc_config *cfg, const char *path, char *errstr, size_t errstr_size)
{
    int rc = -1;

    if (jc_config_init(cfg) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (!path || !*path)
        path = getenv("JOBCOORD_CONFIG");
    if (path && *path && jc_config_load_file(cfg, path, errstr, errstr_size) != 0)
        goto out;
    if (jc_config_load_env(cfg, errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    /* On failure cfg is left empty: freeing it again is harmless. */
    if (rc != 0)
        jc_config_free(cfg);
    return rc;
}

void jc_config_topic(const jc_config *cfg, const char *name, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s%s", cfg->topic_prefix ? cfg->topic_prefix : "", name);
}

void jc_config_free(jc_config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!is_int_key((int)i) && !is_bool_key((int)i)) {
            char **field = string_field(cfg, (int)i);
            free(*field);
            *field = NULL;
        }
    }
    memset(cfg, 0, sizeof *cfg);
}
