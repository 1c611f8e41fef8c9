/*
 * main.c - the jobcoord daemon: configuration, start-up order, signals.
 *
 * Start-up: load and validate the configuration (any bad key is fatal and
 * named), open the keyring, connect to PostgreSQL and apply migrations,
 * start the embedded Kafka cluster when no brokers are configured, then the
 * janitor thread, then the ingest loop on this thread. SIGTERM/SIGINT ask
 * everything to stop: ingest finishes the batch in hand, then all threads
 * are joined.
 *
 * Exit codes: 0 clean stop, 100 usage or configuration error, 111 system
 * error (database, Kafka, files).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"
#include "ingest/ingest.h"
#include "jobs/janitor.h"
#include "principals/passwords.h"
#include "secrets/keyring.h"
#include "core/log.h"
#include "tokens/signing_keys.h"
#include "tokens/access_tokens.h"
#include "kafka/kconf.h"
#include "kafka/mockkafka.h"
#include "http/http.h"
#include "jobs/outbox.h"
#include "jcproto/proto.h"
#include "core/runtime.h"
#include "secrets/sealed_columns.h"

#define EXIT_USAGE 100
#define EXIT_SYSTEM 111

/* Set by the signal handler and on a fatal error; every thread polls it
 * (rt.stop). An atomic, not a volatile sig_atomic_t: that one is safe to
 * write from a signal handler but is a data race between threads (the
 * janitor read it while main wrote it: ThreadSanitizer, jobs_flow). */
static atomic_int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jobcoord [options]\n"
            "The jobcoord coordinator: consumes signed worker and client messages from Kafka\n"
            "and applies them to PostgreSQL.\n\n"
            "  -c, --config FILE        configuration file (libconfig; default $JOBCOORD_CONFIG)\n"
            "      --set KEY=VALUE      set any configuration key (repeatable)\n"
            "      --db CONNINFO        same as --set database.conninfo=CONNINFO\n"
            "      --kafka-brokers LIST same as --set kafka.brokers=LIST (empty: embedded Kafka)\n"
            "      --bootstrap-file F   same as --set kafka.bootstrap_file=F\n"
            "      --log-level LEVEL    debug, info, warn or error\n"
            "      --log-format FMT     text or json\n"
            "      --check-config       validate the configuration and exit\n"
            "      --migrate-only       apply database migrations and exit\n"
            "      --config-reference   print the table of configuration keys (Markdown)\n"
            "      --version            print the version and exit\n"
            "  -h, --help               this text\n\n"
            "Every key can also be set from the environment: JOBCOORD_<KEY>, upper case, dots\n"
            "as underscores (JOBCOORD_DATABASE_CONNINFO). Precedence: flags, environment,\n"
            "file, defaults. Keys are listed in docs/configuration.md.\n\n"
            "Exit codes: 0 clean stop, 100 usage or configuration error, 111 system error.\n");
}

// print_reference prints the configuration keys as the Markdown table that
// docs/configuration.md carries (a test checks the two agree).
static void print_reference(void)
{
    size_t n;
    const jc_config_key *k = jc_config_keys(&n);
    printf("| key | type | default | range | environment | meaning |\n");
    printf("| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n; i++) {
        char env[128], range[64] = "";
        size_t j = 0;
        j += (size_t)snprintf(env, sizeof env, "JOBCOORD_");
        for (const char *p = k[i].name; *p && j + 1 < sizeof env; p++)
            env[j++] = *p == '.' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        env[j] = '\0';
        if (strcmp(k[i].type, "int") == 0)
            snprintf(range, sizeof range, "%ld..%ld", k[i].min, k[i].max);
        else if (strcmp(k[i].type, "bool") == 0)
            snprintf(range, sizeof range, "true, false");
        printf("| `%s` | %s | `%s` | %s | `%s` | %s |\n", k[i].name, k[i].type, k[i].def, range,
               env, k[i].doc);
    }
}

// warn_plain_secrets says at start how secrets are stored: without a keys
// file, that new ones are stored in plain text (security.allow_plaintext) or
// refused; and how many are in plain text already, with how to seal them
// (jc_secret_plain_warning, which /v1/status and `jobcoord-admin status`
// show too).
static void warn_plain_secrets(PGconn *db, const jc_keyring *kr)
{
    char why[512], err[512];
    int sealing = jc_keyring_default_id(kr) != NULL, plain;

    if (!sealing && jc_keyring_plaintext_allowed(kr))
        LOG_WARN("main", "no keys file configured (security.keys_file) and"
                         " security.allow_plaintext is true: new secrets (principals' HMAC keys,"
                         " token signing keys, TOTP secrets) are stored in PostgreSQL in plain"
                         " text");
    else if (!sealing)
        LOG_WARN("main", "no keys file configured (security.keys_file): new secrets (principals'"
                         " HMAC keys, token signing keys, TOTP secrets) are refused, since"
                         " security.allow_plaintext is false; configure a keys file with"
                         " security.encryption_key_id");
    plain = jc_secret_plain_warning(db, sealing, 0, why, sizeof why, err, sizeof err);
    if (plain < 0)
        LOG_WARN("main", "cannot count the secrets stored in plain text: %s", err);
    else if (plain)
        LOG_WARN("main", "%s", why);
}

// connect_and_migrate connects to PostgreSQL, retrying until stopped,
// applies pending migrations, makes sure a token signing key exists, and on
// first start creates the bootstrap admin when a password is configured.
// Returns 0, -1 (error), or -2 when a secret it must create would be stored
// in plain text and the configuration does not allow that.
static int connect_and_migrate(const jc_config *cfg, const jc_keyring *kr)
{
    char err[1024];
    int delay = 1, applied = 0, created = 0, rc;
    PGconn *db;
    for (;;) {
        db = jc_db_connect(cfg->db_conninfo, err, sizeof err);
        if (db)
            break;
        LOG_ERROR("main", "%s (retrying in %d s)", err, delay);
        for (int i = 0; i < delay * 10 && !stop_requested; i++)
            usleep(100000);
        if (stop_requested)
            return -1;
        if (delay < 16)
            delay *= 2;
    }
    if (jc_db_migrate(db, &applied, err, sizeof err) != 0) {
        LOG_ERROR("main", "database migration failed: %s", err);
        PQfinish(db);
        return -1;
    }
    LOG_INFO("main", "database schema at version %d (%d migrations applied now)",
             jc_db_schema_version(db), applied);
    rc = jc_signing_ensure(db, kr, &created, err, sizeof err);
    if (rc != 0) {
        LOG_ERROR("main", "token signing key: %s", err);
        PQfinish(db);
        return rc == -2 ? -2 : -1;
    }
    if (created)
        LOG_INFO("main", "created the first token signing key");
    if (cfg->bootstrap_password && *cfg->bootstrap_password) {
        jc_pr_status st = jc_principal_bootstrap_admin(db, kr, cfg->bootstrap_admin,
                                                       cfg->bootstrap_password, &created, err,
                                                       sizeof err);
        if (st != JC_PR_OK) {
            LOG_ERROR("main", "bootstrap admin: %s", err);
            PQfinish(db);
            return st == JC_PR_INVALID ? -2 : -1;
        }
        if (created)
            LOG_INFO("main", "created admin '%s' (no admin existed; auth.bootstrap_password)",
                     cfg->bootstrap_admin);
    }
    warn_plain_secrets(db, kr);
    PQfinish(db);
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        O_SET = 1000, O_DB, O_BROKERS, O_BOOT, O_LEVEL, O_FORMAT, O_CHECK, O_MIGRATE, O_VER, O_REF
    };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"set", required_argument, NULL, O_SET},
        {"db", required_argument, NULL, O_DB},      {"kafka-brokers", required_argument, NULL, O_BROKERS},
        {"bootstrap-file", required_argument, NULL, O_BOOT},
        {"log-level", required_argument, NULL, O_LEVEL},
        {"log-format", required_argument, NULL, O_FORMAT},
        {"check-config", no_argument, NULL, O_CHECK},
        {"migrate-only", no_argument, NULL, O_MIGRATE},
        {"config-reference", no_argument, NULL, O_REF},
        {"version", no_argument, NULL, O_VER},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    char **sets = NULL;
    int n_sets = 0, check_only = 0, migrate_only = 0, opt, rc = EXIT_SYSTEM;
    char err[1024];
    jc_config cfg;
    jc_keyring *kr = NULL;
    jc_kafka_minter minter = {0};
    jc_mockkafka *mk = NULL;
    jc_janitor *janitor = NULL;
    jc_ingest *ig = NULL;
    jc_outbox *outbox = NULL;
    jc_http *http = NULL;
    jc_runtime rt;
    const char *brokers;
    struct sigaction sa;

    sets = calloc((size_t)argc + 1, sizeof *sets);
    if (!sets)
        return EXIT_SYSTEM;
    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        char *kv = NULL;
        switch (opt) {
        case 'c': config_path = optarg; break;
        case O_SET: kv = strdup(optarg); break;
        case O_DB:
        case O_BROKERS:
        case O_BOOT:
        case O_LEVEL:
        case O_FORMAT: {
            const char *key = opt == O_DB        ? "database.conninfo"
                              : opt == O_BROKERS ? "kafka.brokers"
                              : opt == O_BOOT    ? "kafka.bootstrap_file"
                              : opt == O_LEVEL   ? "log.level"
                                                 : "log.format";
            size_t n = strlen(key) + strlen(optarg) + 2;
            kv = malloc(n);
            if (kv)
                snprintf(kv, n, "%s=%s", key, optarg);
            break;
        }
        case O_CHECK: check_only = 1; break;
        case O_MIGRATE: migrate_only = 1; break;
        case O_VER: printf("jobcoord %s\n", JC_VERSION_STR); free(sets); return 0;
        case O_REF: print_reference(); free(sets); return 0;
        case 'h': usage(stdout); free(sets); return 0;
        default: usage(stderr); free(sets); return EXIT_USAGE;
        }
        if (kv)
            sets[n_sets++] = kv;
    }
    if (optind != argc) {
        fprintf(stderr, "jobcoord: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        rc = EXIT_USAGE;
        goto out_sets;
    }

    if (jc_config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "jobcoord: configuration: %s\n", err);
        rc = EXIT_USAGE;
        goto out_sets;
    }
    for (int i = 0; i < n_sets; i++) {
        char *eq = strchr(sets[i], '=');
        if (!eq) {
            fprintf(stderr, "jobcoord: --set wants KEY=VALUE, got '%s'\n", sets[i]);
            rc = EXIT_USAGE;
            goto out_cfg;
        }
        *eq = '\0';
        if (jc_config_set(&cfg, sets[i], eq + 1, err, sizeof err) != 0) {
            fprintf(stderr, "jobcoord: configuration: %s\n", err);
            rc = EXIT_USAGE;
            goto out_cfg;
        }
    }
    if (jc_log_setup(cfg.log_level, cfg.log_format) != 0) {
        fprintf(stderr, "jobcoord: configuration: bad log.level or log.format\n");
        rc = EXIT_USAGE;
        goto out_cfg;
    }
    kr = jc_keyring_load(cfg.keys_file, cfg.encryption_key_id, err, sizeof err);
    if (!kr) {
        fprintf(stderr, "jobcoord: security: %s\n", err);
        rc = EXIT_USAGE;
        goto out_cfg;
    }
    jc_keyring_allow_plaintext(kr, cfg.allow_plaintext);
    if (check_only) {
        printf("configuration ok\n");
        rc = 0;
        goto out_cfg;
    }
    {
        char why[512];
        if (jc_kafka_auth_warning(&cfg, why, sizeof why))
            LOG_WARN("main", "%s", why);
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&rt, 0, sizeof rt);
    rt.stop = &stop_requested;
    rt.started_at_ms = (int64_t)jc_now_ms();
    if (cfg.instance_id && *cfg.instance_id) {
        snprintf(rt.instance_id, sizeof rt.instance_id, "%s", cfg.instance_id);
    } else {
        char host[128] = "";
        gethostname(host, sizeof host - 1);
        snprintf(rt.instance_id, sizeof rt.instance_id, "%s:%d", host, (int)getpid());
    }
    LOG_INFO("main", "jobcoord %s starting as instance %s", JC_VERSION_STR, rt.instance_id);

    switch (connect_and_migrate(&cfg, kr)) {
    case 0: break;
    case -2: rc = EXIT_USAGE; goto out_cfg; /* the configuration refuses plain text */
    default: goto out_cfg;
    }
    if (migrate_only) {
        rc = 0;
        goto out_cfg;
    }

    /* the coordinator's own Kafka clients authenticate with tokens it signs
     * itself when kafka.properties ask for SASL/OAUTHBEARER */
    minter.cfg = &cfg;
    jc_token_issuer(&cfg, minter.issuer, sizeof minter.issuer);
    minter.keys = jc_signkeys_new(&cfg, kr, err, sizeof err);
    if (!minter.keys) {
        LOG_ERROR("main", "%s", err);
        goto out_cfg;
    }
    jc_kafka_conf_set_oauth(jc_kafka_minter_mint, &minter);

    brokers = cfg.kafka_brokers;
    if (!brokers || !*brokers) {
        mk = jc_mockkafka_start(1, cfg.kafka_partitions, cfg.topic_prefix, cfg.bootstrap_file,
                                err, sizeof err);
        if (!mk) {
            LOG_ERROR("main", "embedded Kafka: %s", err);
            goto out_cfg;
        }
        brokers = jc_mockkafka_bootstraps(mk);
        LOG_INFO("main", "embedded Kafka (mock cluster) at %s, address written to %s", brokers,
                 cfg.bootstrap_file);
        LOG_WARN("main", "the embedded Kafka cluster started empty. It is a development default,"
                         " not a durable broker: it keeps about 5 MiB per partition, listens on"
                         " loopback only, has no authentication, and its records die with this"
                         " process. Set kafka.brokers to a real cluster in production");
    }

    janitor = jc_janitor_start(&cfg, &rt, err, sizeof err);
    if (!janitor) {
        LOG_ERROR("main", "%s", err);
        goto out;
    }
    outbox = jc_outbox_start(&cfg, brokers, kr, &rt, err, sizeof err);
    if (!outbox) {
        LOG_ERROR("main", "outbox: %s", err);
        stop_requested = 1;
        goto out;
    }
    if (cfg.http_listen && *cfg.http_listen) {
        http = jc_http_start(&cfg, &rt, kr, err, sizeof err);
        if (!http) {
            LOG_ERROR("main", "http: %s", err);
            stop_requested = 1;
            goto out;
        }
    }
    ig = jc_ingest_new(&cfg, brokers, kr, &rt, err, sizeof err);
    if (ig && mk)
        jc_ingest_log_is_new(ig); /* positions stored before this process are another log's */
    if (!ig) {
        LOG_ERROR("main", "ingest: %s", err);
        stop_requested = 1;
        goto out;
    }
    rc = jc_ingest_run(ig) == 0 ? 0 : EXIT_SYSTEM;
    stop_requested = 1;
out:
    jc_http_stop(http);
    jc_ingest_free(ig);
    jc_outbox_stop(outbox);
    jc_janitor_stop(janitor);
    jc_mockkafka_stop(mk);
    LOG_INFO("main", "stopped: %llu messages applied, %llu rejected in %llu batches",
             (unsigned long long)atomic_load(&rt.applied),
             (unsigned long long)atomic_load(&rt.rejected),
             (unsigned long long)atomic_load(&rt.batches));
out_cfg:
    jc_signkeys_free(minter.keys);
    jc_keyring_free(kr);
    jc_config_free(&cfg);
out_sets:
    for (int i = 0; i < n_sets; i++)
        free(sets[i]);
    free(sets);
    return rc;
}
