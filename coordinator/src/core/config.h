/*
 * config.h - the coordinator's configuration: one table of keys (name, type,
 * default, range, documentation) drives the libconfig file parser, the
 * JOBCOORD_* environment overrides, `--set key=value` flags and the
 * configuration reference in docs/configuration.md.
 *
 * Precedence, lowest first: built-in default, config file, environment,
 * command line. Any unknown key, wrong type or out-of-range value is an error
 * that names the key (and the file line when it comes from the file).
 */
#ifndef JC_CONFIG_H
#define JC_CONFIG_H

#include <stddef.h>

typedef struct jc_config {
    /* log */
    char *log_level;  /* debug|info|warn|error */
    char *log_format; /* text|json */
    int log_rejection_interval_s; /* one line per reason and principal per interval */
    /* database */
    char *db_conninfo;
    /* kafka */
    char *kafka_brokers; /* empty: embedded mock cluster */
    char *topic_prefix;
    char *group_id;
    char *bootstrap_file;
    int kafka_partitions; /* topics created by the embedded cluster */
    int session_timeout_ms;
    int fetch_wait_max_ms;
    char *kafka_properties; /* "k=v,k=v" passed to librdkafka */
    /* ingest */
    int batch_max_messages;
    int batch_max_ms;
    int max_message_bytes;
    int heartbeat_max_age_s;
    int heartbeat_max_future_s;
    int max_future_s;
    int key_cache_ttl_ms;
    /* janitor */
    int janitor_interval_ms;
    int worker_offline_after_s;
    int heartbeat_retention_s;
    int expired_key_retention_s;
    int audit_retention_s;
    /* jobs */
    int default_timeout_ms;
    int assign_timeout_ms;
    int max_run_time_ms; /* 0: attempts may run as long as they report progress */
    int unacked_assign_limit;
    int cancel_timeout_ms;
    int reconcile_grace_ms;
    int retry_backoff_ms;
    int retry_backoff_max_ms;
    int job_retention_s;
    int max_refusals;   /* refused assignments before the job fails */
    int refusal_skip_s; /* a refusing worker is not offered the job again for this long */
    int unschedulable_after_s; /* 0: a job no worker can run waits */
    /* scheduler and outbox */
    int schedule_batch;
    int outbox_resend_ms;
    int outbox_max_tries;
    int outbox_batch;
    /* answers to clients' requests (answers.c) */
    int answers_interval_s;
    int answers_max;
    /* http */
    char *http_listen;
    int http_threads;
    int http_timeout_s;
    int http_request_deadline_s;
    int http_busy_deadline_ms;
    int http_max_connections;
    int http_max_per_ip;
    int http_memory_limit;
    int http_max_body;
    char *http_public_url;
    char *token_issuer;
    char *token_audience;
    int access_ttl_s;
    int refresh_ttl_s;
    int assertion_max_lifetime_s;
    int clock_skew_s;
    int signing_key_grace_s;
    int key_reload_ms;
    int login_max_failures;
    int lockout_s;
    int max_concurrent_hashes;
    int max_queued_logins;
    int token_rate_per_min;
    int token_burst;
    char *totp_required_roles;
    int max_key_age_s;  /* 0: HMAC keys do not age out */
    int key_age_warn_s; /* 0: a tenth of max_key_age_s */
    char *bootstrap_admin;
    char *bootstrap_password;
    /* security */
    char *keys_file;
    char *encryption_key_id;
    int allow_plaintext; /* 1: without a keys file, secrets may be stored in plain text */
    /* instance */
    char *instance_id; /* empty: host:pid */
} jc_config;

/* jc_config_key describes one key of the table (for docs and tests). */
typedef struct jc_config_key {
    const char *name;     /* dotted path, "ingest.batch_max_messages" */
    const char *type;     /* "string" | "int" | "bool" */
    const char *def;      /* default, as text */
    long min, max;        /* ints only */
    const char *doc;      /* one sentence */
} jc_config_key;

/* jc_config_keys returns the table and its length through n. */
const jc_config_key *jc_config_keys(size_t *n);

/* jc_config_init fills cfg with the defaults. */
int jc_config_init(jc_config *cfg);

/* jc_config_load_file applies a libconfig file over cfg. Returns 0, or -1
 * with errstr naming the file, line and key. */
int jc_config_load_file(jc_config *cfg, const char *path, char *errstr, size_t errstr_size);

/* jc_config_load_env applies JOBCOORD_<KEY> variables (dots and the
 * key's letters upper-cased: JOBCOORD_INGEST_BATCH_MAX_MESSAGES). */
int jc_config_load_env(jc_config *cfg, char *errstr, size_t errstr_size);

/* jc_config_set sets one key from text ("ingest.batch_max_ms", "20"). */
int jc_config_set(jc_config *cfg, const char *name, const char *value, char *errstr,
                  size_t errstr_size);

/* jc_config_load does the usual sequence: defaults, the file (path may be
 * NULL: then $JOBCOORD_CONFIG if set), environment. Command-line --set
 * flags are applied by the caller afterwards with jc_config_set. */
int jc_config_load(jc_config *cfg, const char *path, char *errstr, size_t errstr_size);

/* jc_config_topic writes prefix+name into out. */
void jc_config_topic(const jc_config *cfg, const char *name, char *out, size_t out_size);

/* jc_config_free frees the strings of cfg. */
void jc_config_free(jc_config *cfg);

#endif
