/*
 * mockkafka.h - the embedded Kafka: librdkafka's mock cluster, which speaks
 * the real Kafka protocol on loopback. Used by the daemon when no brokers
 * are configured and by the standalone jobcoord-mock-kafka process.
 *
 * The cluster lives inside the process that created it and keeps about
 * 5 MiB per partition; it has no SASL or TLS. Its bootstrap address is
 * written (atomically: temp file + rename) to a file that workers and tools
 * read.
 */
#ifndef JC_MOCKKAFKA_H
#define JC_MOCKKAFKA_H

#include <stddef.h>

typedef struct jc_mockkafka jc_mockkafka;

/* jc_mockkafka_start creates a cluster of `brokers` brokers, creates every
 * protocol topic (prefix + name) with `partitions` partitions, and writes the
 * bootstrap address to bootstrap_file (if not NULL or empty). */
jc_mockkafka *jc_mockkafka_start(int brokers, int partitions, const char *topic_prefix,
                                 const char *bootstrap_file, char *errstr, size_t errstr_size);

/* jc_mockkafka_bootstraps returns "host:port,..." (owned by the cluster). */
const char *jc_mockkafka_bootstraps(const jc_mockkafka *mk);

/* jc_mockkafka_cluster returns the rd_kafka_mock_cluster_t, for fault
 * injection (rd_kafka_mock_push_request_errors and friends). */
void *jc_mockkafka_cluster(jc_mockkafka *mk);

/* jc_mockkafka_cluster_id returns the id the cluster reports to its clients
 * (asked over the Kafka protocol once, then kept); "" if it did not answer. */
const char *jc_mockkafka_cluster_id(jc_mockkafka *mk);

/* jc_mockkafka_stop destroys the cluster and removes the bootstrap file. */
void jc_mockkafka_stop(jc_mockkafka *mk);

#endif
