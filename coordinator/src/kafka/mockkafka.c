/*
 * mockkafka.c - the embedded Kafka cluster (see mockkafka.h).
 *
 * librdkafka hosts a mock cluster inside an rd_kafka_t handle; we create a
 * producer handle for that purpose only and never produce with it.
 */
#include "kafka/mockkafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/kconf.h"
#include "jcproto/topics.h"

struct jc_mockkafka {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *cluster;
    char *bootstrap_file;
    char cluster_id[128];
};

// write_file_atomic writes text to path through a temp file and rename, so
// a reader never sees a half-written address.
static int write_file_atomic(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f;
    int rc = -1;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    if (fprintf(f, "%s\n", text) < 0) {
        fclose(f);
        goto out;
    }
    if (fclose(f) != 0)
        goto out;
    rc = rename(tmp, path);
out:
    if (rc != 0)
        unlink(tmp);
    return rc;
}

jc_mockkafka *jc_mockkafka_start(int brokers, int partitions, const char *topic_prefix,
                                 const char *bootstrap_file, char *errstr, size_t errstr_size)
{
    static const char *const topics[] = JC_TOPICS_ALL;
    jc_mockkafka *mk = calloc(1, sizeof *mk);
    rd_kafka_conf_t *conf = NULL;
    char kerr[256];

    if (!mk) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, jc_kafka_log);
    /* this handle only hosts the cluster: it has no brokers of its own to
     * talk to, which librdkafka would warn about */
    if (rd_kafka_conf_set(conf, "client.id", "jobcoord-mock-kafka", kerr, sizeof kerr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "3", kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "mock kafka: %s", kerr);
        goto fail;
    }
    mk->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    if (!mk->rk) {
        snprintf(errstr, errstr_size, "mock kafka: %s", kerr);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    mk->cluster = rd_kafka_mock_cluster_new(mk->rk, brokers);
    if (!mk->cluster) {
        snprintf(errstr, errstr_size, "mock kafka: cannot create the mock cluster");
        goto fail;
    }
    for (size_t i = 0; i < JC_TOPICS_COUNT; i++) {
        char name[256];
        rd_kafka_resp_err_t err;
        snprintf(name, sizeof name, "%s%s", topic_prefix ? topic_prefix : "", topics[i]);
        err = rd_kafka_mock_topic_create(mk->cluster, name, partitions, 1);
        if (err) {
            snprintf(errstr, errstr_size, "mock kafka: create topic %s: %s", name,
                     rd_kafka_err2str(err));
            goto fail;
        }
    }
    if (bootstrap_file && *bootstrap_file) {
        mk->bootstrap_file = strdup(bootstrap_file);
        if (!mk->bootstrap_file ||
            write_file_atomic(bootstrap_file, rd_kafka_mock_cluster_bootstraps(mk->cluster))) {
            snprintf(errstr, errstr_size, "mock kafka: cannot write bootstrap file %s",
                     bootstrap_file);
            goto fail;
        }
    }
    return mk;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    jc_mockkafka_stop(mk);
    return NULL;
}

const char *jc_mockkafka_bootstraps(const jc_mockkafka *mk)
{
    return rd_kafka_mock_cluster_bootstraps(mk->cluster);
}

void *jc_mockkafka_cluster(jc_mockkafka *mk) { return mk->cluster; }

const char *jc_mockkafka_cluster_id(jc_mockkafka *mk)
{
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    char *id;

    if (mk->cluster_id[0])
        return mk->cluster_id;
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", jc_mockkafka_bootstraps(mk), NULL, 0) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return "";
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, NULL, 0);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return "";
    }
    id = rd_kafka_clusterid(rk, 5000);
    if (id) {
        snprintf(mk->cluster_id, sizeof mk->cluster_id, "%s", id);
        rd_kafka_mem_free(rk, id);
    }
    rd_kafka_destroy(rk);
    return mk->cluster_id;
}

void jc_mockkafka_stop(jc_mockkafka *mk)
{
    if (!mk)
        return;
    if (mk->bootstrap_file) {
        unlink(mk->bootstrap_file);
        free(mk->bootstrap_file);
    }
    if (mk->cluster)
        rd_kafka_mock_cluster_destroy(mk->cluster);
    if (mk->rk)
        rd_kafka_destroy(mk->rk);
    free(mk);
}
