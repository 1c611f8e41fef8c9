/* kafka.c - identity and Kafka configuration of SDK handles. */
#include "kafka.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "conf_int.h"

// read_first_line reads the first line of path, without its newline.
static jc_err_t read_first_line(const char *path, char *out, size_t out_size, char *errstr,
                                size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path, strerror(errno));
        return JC_ERR_IO;
    }
    if (!fgets(out, (int)out_size, f)) {
        fclose(f);
        snprintf(errstr, errstr_size, "%s is empty", path);
        return JC_ERR_IO;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return JC_OK;
}

jc_err_t jc_sdk_identity(const jc_conf_t *conf, jc_identity *id, char *errstr,
                         size_t errstr_size)
{
    const char *principal = jc_conf_get(conf, "principal");
    const char *key_id = jc_conf_get(conf, "key.id");
    const char *key = jc_conf_get(conf, "key");
    const char *key_file = jc_conf_get(conf, "key.file");
    char from_file[256];
    size_t bin_len = 0;
    jc_err_t err;

    memset(id, 0, sizeof *id);
    if (!principal || !jc_name_valid((const uint8_t *)principal, strlen(principal),
                                     JC_MAX_PRINCIPAL_LEN)) {
        snprintf(errstr, errstr_size, "principal is missing or not a valid id");
        return JC_ERR_INVALID_CONF;
    }
    if (!key_id || !jc_name_valid((const uint8_t *)key_id, strlen(key_id), JC_MAX_KEY_ID_LEN)) {
        snprintf(errstr, errstr_size, "key.id is missing or not a valid key id");
        return JC_ERR_INVALID_CONF;
    }
    if (!key && key_file) {
        err = read_first_line(key_file, from_file, sizeof from_file, errstr, errstr_size);
        if (err)
            return err;
        key = from_file;
    }
    if (!key) {
        snprintf(errstr, errstr_size, "key or key.file is required");
        return JC_ERR_INVALID_CONF;
    }
    if (sodium_init() < 0) {
        snprintf(errstr, errstr_size, "libsodium failed to initialise");
        return JC_ERR_IO;
    }
    if (sodium_base642bin(id->key, sizeof id->key, key, strlen(key), " \t", &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != JC_KEY_LEN) {
        sodium_memzero(from_file, sizeof from_file);
        snprintf(errstr, errstr_size, "key must be the base64 of %d bytes", JC_KEY_LEN);
        return JC_ERR_INVALID_CONF;
    }
    sodium_memzero(from_file, sizeof from_file);
    snprintf(id->principal, sizeof id->principal, "%s", principal);
    snprintf(id->key_id, sizeof id->key_id, "%s", key_id);
    return JC_OK;
}

typedef struct kset {
    rd_kafka_conf_t *rconf;
    char *errstr;
    size_t errstr_size;
} kset;

static int set_one(const char *name, const char *value, void *arg)
{
    kset *k = arg;
    char kerr[256];
    if (rd_kafka_conf_set(k->rconf, name, value, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(k->errstr, k->errstr_size, "kafka.%s: %s", name, kerr);
        return 1;
    }
    return 0;
}

jc_err_t jc_sdk_kafka_conf(const jc_conf_t *conf, rd_kafka_conf_t **out, char *errstr,
                           size_t errstr_size)
{
    rd_kafka_conf_t *rconf = rd_kafka_conf_new();
    kset k = {rconf, errstr, errstr_size};
    const char *bootstrap_file = jc_conf_get(conf, "bootstrap.file");
    jc_err_t err;

    if (jc_conf_each(conf, "kafka.", set_one, &k) != 0) {
        rd_kafka_conf_destroy(rconf);
        return JC_ERR_INVALID_CONF;
    }
    if (!jc_conf_get(conf, "kafka.bootstrap.servers")) {
        char servers[1024];
        if (!bootstrap_file) {
            snprintf(errstr, errstr_size, "kafka.bootstrap.servers or bootstrap.file is required");
            rd_kafka_conf_destroy(rconf);
            return JC_ERR_INVALID_CONF;
        }
        err = read_first_line(bootstrap_file, servers, sizeof servers, errstr, errstr_size);
        if (err || set_one("bootstrap.servers", servers, &k) != 0) {
            rd_kafka_conf_destroy(rconf);
            return err ? err : JC_ERR_INVALID_CONF;
        }
    }
    *out = rconf;
    return JC_OK;
}

rd_kafka_t *jc_sdk_producer(const jc_conf_t *conf, const char *linger_ms, void *opaque,
                            void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                            char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *rconf = NULL;
    rd_kafka_t *rk;
    char kerr[256];

    if (jc_sdk_kafka_conf(conf, &rconf, errstr, errstr_size) != JC_OK)
        return NULL;
    if (rd_kafka_conf_set(rconf, "enable.idempotence", "true", kerr, sizeof kerr) ||
        rd_kafka_conf_set(rconf, "linger.ms", linger_ms, kerr, sizeof kerr) ||
        (!jc_conf_get(conf, "kafka.partitioner") &&
         rd_kafka_conf_set(rconf, "partitioner", "murmur2_random", kerr, sizeof kerr))) {
        snprintf(errstr, errstr_size, "kafka: %s", kerr);
        rd_kafka_conf_destroy(rconf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(rconf, opaque);
    rd_kafka_conf_set_dr_msg_cb(rconf, dr_cb);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, rconf, kerr, sizeof kerr);
    if (!rk) {
        snprintf(errstr, errstr_size, "kafka: %s", kerr);
        rd_kafka_conf_destroy(rconf);
    }
    return rk;
}

void jc_sdk_topic(const jc_conf_t *conf, const char *name, char *out, size_t out_size)
{
    const char *prefix = jc_conf_get(conf, "topic.prefix");
    snprintf(out, out_size, "%s%s", prefix ? prefix : "jobcoord.", name);
}
