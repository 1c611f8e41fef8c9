/*
 * test_config.c - the coordinator's configuration table: defaults, the
 * libconfig file walker (unknown keys, types, ranges, enumerations, each
 * error naming the key and line), booleans (true/false only, from the
 * file, the environment and --set), JOBCOORD_* variables, precedence and
 * jc_config_set's strict parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpfiles.h"
#include "core/config.h"

static char tmpdir[] = "/tmp/jc-test-config-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    return tmp_write(tmpdir, name, text);
}

/* load_text loads text as a config file over the defaults; returns the
 * result of jc_config_load_file and leaves the message in err. */
static int load_text(jc_config *cfg, const char *text, char *err, size_t err_size)
{
    const char *path = write_file("t.conf", text);

    err[0] = '\0';
    return jc_config_load_file(cfg, path, err, err_size);
}

static void test_table(void)
{
    size_t n = 0;
    const jc_config_key *keys = jc_config_keys(&n);

    CHECK_EQ_INT(n, 75);
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(keys[i].doc && keys[i].doc[0], "%s has no doc", keys[i].name);
        CHECK(strcmp(keys[i].type, "int") == 0 || strcmp(keys[i].type, "string") == 0 ||
              strcmp(keys[i].type, "bool") == 0);
        if (strcmp(keys[i].type, "bool") == 0)
            CHECK_MSG(strcmp(keys[i].def, "true") == 0 || strcmp(keys[i].def, "false") == 0,
                      "%s default is not a boolean", keys[i].name);
        CHECK_MSG(strchr(keys[i].name, '.') != NULL, "%s has no group", keys[i].name);
        if (strcmp(keys[i].type, "int") == 0) {
            long def = strtol(keys[i].def, NULL, 10);
            CHECK_MSG(keys[i].min <= def && def <= keys[i].max, "%s default out of range",
                      keys[i].name);
        }
    }
}

static void test_defaults(void)
{
    jc_config cfg;

    CHECK_EQ_INT(jc_config_init(&cfg), 0);
    CHECK_EQ_STR(cfg.log_level, "info");
    CHECK_EQ_STR(cfg.log_format, "text");
    CHECK_EQ_STR(cfg.db_conninfo, "dbname=jobcoord");
    CHECK_EQ_STR(cfg.kafka_brokers, "");
    CHECK_EQ_STR(cfg.topic_prefix, "jobcoord.");
    CHECK_EQ_STR(cfg.group_id, "jobcoord");
    CHECK_EQ_STR(cfg.bootstrap_file, "jobcoord-kafka.bootstrap");
    CHECK_EQ_INT(cfg.kafka_partitions, 4);
    CHECK_EQ_INT(cfg.session_timeout_ms, 10000);
    CHECK_EQ_STR(cfg.kafka_properties, "");
    CHECK_EQ_INT(cfg.batch_max_messages, 1000);
    CHECK_EQ_INT(cfg.batch_max_ms, 20);
    CHECK_EQ_INT(cfg.max_message_bytes, 1048576);
    CHECK_EQ_INT(cfg.heartbeat_max_age_s, 300);
    CHECK_EQ_INT(cfg.heartbeat_max_future_s, 60);
    CHECK_EQ_INT(cfg.key_cache_ttl_ms, 2000);
    CHECK_EQ_INT(cfg.janitor_interval_ms, 1000);
    CHECK_EQ_INT(cfg.worker_offline_after_s, 30);
    CHECK_EQ_INT(cfg.heartbeat_retention_s, 604800);
    CHECK_EQ_STR(cfg.keys_file, "");
    CHECK_EQ_STR(cfg.encryption_key_id, "");
    CHECK_EQ_INT(cfg.allow_plaintext, 0); /* secrets are never stored in plain text unasked */
    CHECK_EQ_STR(cfg.instance_id, "");
    jc_config_free(&cfg);
    CHECK(cfg.log_level == NULL);
    jc_config_free(&cfg); /* twice is harmless */
}

static void test_file(void)
{
    jc_config cfg;
    char err[512];
    char topic[64];

    jc_config_init(&cfg);
    CHECK_EQ_INT(load_text(&cfg,
                           "# comment\n"
                           "log = { level = \"debug\"; format = \"json\"; };\n"
                           "database = { conninfo = \"host=db dbname=x\"; };\n"
                           "kafka = {\n  brokers = \"k1:9092,k2:9092\";\n  partitions = 16;\n"
                           "  topic_prefix = \"prod.\";\n};\n"
                           "ingest = { max_message_bytes = 65536L; };\n"
                           "instance = { id = \"coord-1\"; };\n",
                           err, sizeof err),
                 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_STR(cfg.log_level, "debug");
    CHECK_EQ_STR(cfg.log_format, "json");
    CHECK_EQ_STR(cfg.db_conninfo, "host=db dbname=x");
    CHECK_EQ_STR(cfg.kafka_brokers, "k1:9092,k2:9092");
    CHECK_EQ_INT(cfg.kafka_partitions, 16);
    CHECK_EQ_INT(cfg.max_message_bytes, 65536);
    CHECK_EQ_STR(cfg.instance_id, "coord-1");
    CHECK_EQ_INT(cfg.batch_max_ms, 20); /* untouched keys keep their default */
    jc_config_topic(&cfg, "heartbeats", topic, sizeof topic);
    CHECK_EQ_STR(topic, "prod.heartbeats");
    jc_config_free(&cfg);
}

/* expect_file_error loads text and checks the error contains want. */
static void expect_file_error(const char *text, const char *want)
{
    jc_config cfg;
    char err[512];

    jc_config_init(&cfg);
    CHECK_MSG(load_text(&cfg, text, err, sizeof err) == -1, "accepted: %s", text);
    CHECK_MSG(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
    jc_config_free(&cfg);
}

static void test_file_errors(void)
{
    char want[512];

    expect_file_error("log = {\n  level = \"info\";\n  levle = \"debug\";\n};\n",
                      "unknown key 'log.levle'");
    snprintf(want, sizeof want, "(%s/t.conf:3)", tmpdir);
    expect_file_error("log = {\n  level = \"info\";\n  levle = \"debug\";\n};\n", want);
    expect_file_error("loggging = { level = \"info\"; };\n", "unknown key 'loggging'");
    expect_file_error("foo = 1;\n", "unknown key 'foo'");
    expect_file_error("kafka = { nested = { brokers = \"x\"; }; };\n", "unknown key 'kafka.nested'");
    expect_file_error("ingest = { batch_max_ms = \"fast\"; };\n",
                      "key 'ingest.batch_max_ms' must be an integer");
    expect_file_error("ingest = { batch_max_ms = 1.5; };\n",
                      "key 'ingest.batch_max_ms' must be an integer");
    expect_file_error("ingest = { batch_max_ms = true; };\n", "must be an integer");
    expect_file_error("log = { level = 3; };\n", "key 'log.level' must be a string");
    expect_file_error("log = { level = { x = 1; }; };\n", "key 'log.level' must be a string");
    expect_file_error("kafka = { brokers = [\"a\", \"b\"]; };\n",
                      "key 'kafka.brokers' must be a string");
    expect_file_error("kafka = { partitions = 0; };\n",
                      "key 'kafka.partitions' = 0 is out of range 1..256");
    expect_file_error("kafka = { partitions = 257; };\n", "out of range 1..256");
    expect_file_error("kafka = { partitions = 10000000000L; };\n", "out of range 1..256");
    expect_file_error("log = { level = \"verbose\"; };\n",
                      "key 'log.level' must be one of debug|info|warn|error, not 'verbose'");
    expect_file_error("log = { format = \"xml\"; };\n", "one of text|json");
    snprintf(want, sizeof want, "%s/t.conf:2:", tmpdir);
    expect_file_error("log = {\n  level = ;\n};\n", want);
}

/* test_bool: security.allow_plaintext takes true or false, nothing else,
 * from the file, the environment and jc_config_set alike. */
static void test_bool(void)
{
    jc_config cfg;
    char err[512];

    jc_config_init(&cfg);
    CHECK_EQ_INT(load_text(&cfg, "security = { allow_plaintext = true; };\n", err, sizeof err),
                 0);
    CHECK_EQ_INT(cfg.allow_plaintext, 1);
    CHECK_EQ_INT(load_text(&cfg, "security = { allow_plaintext = false; };\n", err, sizeof err),
                 0);
    CHECK_EQ_INT(cfg.allow_plaintext, 0);
    CHECK_EQ_INT(load_text(&cfg, "security = { allow_plaintext = TRUE; };\n", err, sizeof err),
                 0);
    CHECK_EQ_INT(cfg.allow_plaintext, 1);
    jc_config_free(&cfg);
    expect_file_error("security = { allow_plaintext = 1; };\n",
                      "key 'security.allow_plaintext' must be true or false");
    expect_file_error("security = { allow_plaintext = \"true\"; };\n",
                      "key 'security.allow_plaintext' must be true or false");
    expect_file_error("security = { allow_plaintext = yes; };\n", "t.conf:1:");
    expect_file_error("security = { allow_plaintext = [true]; };\n",
                      "key 'security.allow_plaintext' must be true or false, not a group");
    /* a bool is not an integer or a string either */
    expect_file_error("log = { rejection_interval_s = true; };\n", "must be an integer");
    expect_file_error("log = { level = false; };\n", "key 'log.level' must be a string");

    jc_config_init(&cfg);
    CHECK_EQ_INT(jc_config_set(&cfg, "security.allow_plaintext", "true", err, sizeof err), 0);
    CHECK_EQ_INT(cfg.allow_plaintext, 1);
    CHECK_EQ_INT(jc_config_set(&cfg, "security.allow_plaintext", "false", err, sizeof err), 0);
    CHECK_EQ_INT(cfg.allow_plaintext, 0);
    CHECK_EQ_INT(jc_config_set(&cfg, "security.allow_plaintext", "1", err, sizeof err), -1);
    CHECK_EQ_STR(err, "key 'security.allow_plaintext' must be true or false, not '1'");
    CHECK_EQ_INT(jc_config_set(&cfg, "security.allow_plaintext", "yes", err, sizeof err), -1);
    CHECK_EQ_INT(jc_config_set(&cfg, "security.allow_plaintext", "", err, sizeof err), -1);
    CHECK_EQ_INT(jc_config_set(&cfg, "security.allow_plaintext", "true ", err, sizeof err), -1);
    CHECK_EQ_INT(cfg.allow_plaintext, 0); /* failed sets change nothing */

    setenv("JOBCOORD_SECURITY_ALLOW_PLAINTEXT", "true", 1);
    CHECK_EQ_INT(jc_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ_INT(cfg.allow_plaintext, 1);
    setenv("JOBCOORD_SECURITY_ALLOW_PLAINTEXT", "on", 1);
    CHECK_EQ_INT(jc_config_load_env(&cfg, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "security.allow_plaintext") && strstr(err, "true or false") &&
                  strstr(err, "JOBCOORD_SECURITY_ALLOW_PLAINTEXT"),
              "%s", err);
    unsetenv("JOBCOORD_SECURITY_ALLOW_PLAINTEXT");
    jc_config_free(&cfg);
}

static void test_missing_file(void)
{
    jc_config cfg;
    char err[512];

    jc_config_init(&cfg);
    CHECK_EQ_INT(jc_config_load_file(&cfg, "/nonexistent/jobcoord.conf", err, sizeof err), -1);
    CHECK_MSG(strstr(err, "/nonexistent/jobcoord.conf") != NULL, "%s", err);
    jc_config_free(&cfg);
}

static void test_env(void)
{
    jc_config cfg;
    char err[512];

    jc_config_init(&cfg);
    setenv("JOBCOORD_DATABASE_CONNINFO", "dbname=fromenv", 1);
    setenv("JOBCOORD_INGEST_BATCH_MAX_MESSAGES", "50", 1);
    CHECK_EQ_INT(jc_config_load_env(&cfg, err, sizeof err), 0);
    CHECK_EQ_STR(cfg.db_conninfo, "dbname=fromenv");
    CHECK_EQ_INT(cfg.batch_max_messages, 50);

    setenv("JOBCOORD_INGEST_BATCH_MAX_MESSAGES", "50x", 1);
    CHECK_EQ_INT(jc_config_load_env(&cfg, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "JOBCOORD_INGEST_BATCH_MAX_MESSAGES") != NULL, "%s", err);
    CHECK_MSG(strstr(err, "ingest.batch_max_messages") != NULL, "%s", err);
    setenv("JOBCOORD_INGEST_BATCH_MAX_MESSAGES", "0", 1);
    CHECK_EQ_INT(jc_config_load_env(&cfg, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "out of range 1..10000") != NULL, "%s", err);
    unsetenv("JOBCOORD_INGEST_BATCH_MAX_MESSAGES");
    unsetenv("JOBCOORD_DATABASE_CONNINFO");
    jc_config_free(&cfg);
}

static void test_precedence(void)
{
    jc_config cfg;
    char err[512];
    const char *path = write_file("p.conf", "database = { conninfo = \"dbname=fromfile\"; };\n"
                                            "janitor = { interval_ms = 500; };\n"
                                            "log = { level = \"warn\"; };\n");

    /* file over default, environment over file */
    setenv("JOBCOORD_JANITOR_INTERVAL_MS", "700", 1);
    CHECK_EQ_INT(jc_config_load(&cfg, path, err, sizeof err), 0);
    CHECK_EQ_STR(cfg.db_conninfo, "dbname=fromfile");
    CHECK_EQ_INT(cfg.janitor_interval_ms, 700);
    CHECK_EQ_STR(cfg.log_level, "warn");
    /* command line (jc_config_set) over everything */
    CHECK_EQ_INT(jc_config_set(&cfg, "janitor.interval_ms", "900", err, sizeof err), 0);
    CHECK_EQ_INT(cfg.janitor_interval_ms, 900);
    jc_config_free(&cfg);
    unsetenv("JOBCOORD_JANITOR_INTERVAL_MS");

    /* JOBCOORD_CONFIG names the file when none is given */
    setenv("JOBCOORD_CONFIG", path, 1);
    CHECK_EQ_INT(jc_config_load(&cfg, NULL, err, sizeof err), 0);
    CHECK_EQ_INT(cfg.janitor_interval_ms, 500);
    jc_config_free(&cfg);
    setenv("JOBCOORD_CONFIG", "", 1);
    CHECK_EQ_INT(jc_config_load(&cfg, NULL, err, sizeof err), 0);
    CHECK_EQ_INT(cfg.janitor_interval_ms, 1000);
    jc_config_free(&cfg);
    unsetenv("JOBCOORD_CONFIG");

    /* a failed load leaves nothing to free */
    path = write_file("bad.conf", "bogus = 1;\n");
    CHECK_EQ_INT(jc_config_load(&cfg, path, err, sizeof err), -1);
    CHECK(cfg.log_level == NULL && cfg.db_conninfo == NULL);
    jc_config_free(&cfg);
}

static void test_set(void)
{
    jc_config cfg;
    char err[512];

    jc_config_init(&cfg);
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.batch_max_ms", "25", err, sizeof err), 0);
    CHECK_EQ_INT(cfg.batch_max_ms, 25);
    CHECK_EQ_INT(jc_config_set(&cfg, "kafka.brokers", "b:9092", err, sizeof err), 0);
    CHECK_EQ_STR(cfg.kafka_brokers, "b:9092");
    CHECK_EQ_INT(jc_config_set(&cfg, "kafka.brokers", "", err, sizeof err), 0);
    CHECK_EQ_STR(cfg.kafka_brokers, "");
    CHECK_EQ_INT(jc_config_set(&cfg, "log.level", "error", err, sizeof err), 0);
    CHECK_EQ_STR(cfg.log_level, "error");

    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.nope", "1", err, sizeof err), -1);
    CHECK_EQ_STR(err, "unknown key 'ingest.nope'");
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.batch_max_ms", "25ms", err, sizeof err), -1);
    CHECK_EQ_STR(err, "key 'ingest.batch_max_ms' must be an integer, not '25ms'");
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.batch_max_ms", "", err, sizeof err), -1);
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.batch_max_ms", " 5", err, sizeof err), -1);
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.batch_max_ms", "0x10", err, sizeof err), -1);
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.batch_max_ms", "99999999999999999999", err,
                               sizeof err),
                 -1);
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.batch_max_ms", "10001", err, sizeof err), -1);
    CHECK_EQ_STR(err, "key 'ingest.batch_max_ms' = 10001 is out of range 1..10000");
    CHECK_EQ_INT(jc_config_set(&cfg, "ingest.heartbeat_max_future_s", "0", err, sizeof err), 0);
    CHECK_EQ_INT(jc_config_set(&cfg, "log.level", "INFO", err, sizeof err), -1);
    CHECK_EQ_INT(cfg.batch_max_ms, 25); /* failed sets change nothing */
    CHECK_EQ_STR(cfg.log_level, "error");
    jc_config_free(&cfg);
}

/* test_example loads config/jobcoord.conf.example (tests run from the
 * repository root): it must parse, leave the defaults, and mention every key
 * of the table inside its group. */
static void test_example(void)
{
    jc_config cfg;
    char err[512], *text = NULL;
    size_t n = 0, len = 0;
    const jc_config_key *keys = jc_config_keys(&n);
    FILE *f = fopen("config/jobcoord.conf.example", "r");

    CHECK_MSG(f != NULL, "config/jobcoord.conf.example not found (run from the repository root)");
    if (!f)
        return;
    text = calloc(1, 65536);
    if (text)
        len = fread(text, 1, 65535, f);
    fclose(f);
    CHECK(text && len > 0 && len < 65535);
    CHECK_EQ_INT(jc_config_load(&cfg, "config/jobcoord.conf.example", err, sizeof err), 0);
    CHECK_EQ_INT(cfg.batch_max_messages, 1000);
    jc_config_free(&cfg);
    for (size_t i = 0; text && i < n; i++) {
        const char *dot = strchr(keys[i].name, '.');
        char group[64], leaf[80];
        const char *g;
        snprintf(group, sizeof group, "\n%.*s = {", (int)(dot - keys[i].name), keys[i].name);
        snprintf(leaf, sizeof leaf, "# %s = ", dot + 1);
        g = strstr(text, group);
        CHECK_MSG(g && strstr(g, leaf) && strstr(g, leaf) < strstr(g, "};"),
                  "example lacks %s", keys[i].name);
    }
    free(text);
}

/* clear_env removes the JOBCOORD_* variables of the table, so that the
 * caller's environment cannot change the results. */
static void clear_env(void)
{
    size_t n = 0;
    const jc_config_key *keys = jc_config_keys(&n);

    for (size_t i = 0; i < n; i++) {
        char var[96];
        size_t len = (size_t)snprintf(var, sizeof var, "JOBCOORD_");
        for (const char *p = keys[i].name; *p && len + 1 < sizeof var; p++)
            var[len++] = *p == '.' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        var[len] = '\0';
        unsetenv(var);
    }
    unsetenv("JOBCOORD_CONFIG");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    clear_env();
    test_table();
    test_defaults();
    test_file();
    test_file_errors();
    test_bool();
    test_missing_file();
    test_env();
    test_precedence();
    test_set();
    test_example();
    unlink(write_file("t.conf", ""));
    unlink(write_file("p.conf", ""));
    unlink(write_file("bad.conf", ""));
    rmdir(tmpdir);
    return check_done("test_config");
}
