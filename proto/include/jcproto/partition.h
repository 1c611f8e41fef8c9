/*
 * partition.h - which partition of a topic a record key goes to.
 *
 * Kafka's Java producer and librdkafka's murmur2 partitioners put a keyed
 * record in partition (murmur2(key) & 0x7fffffff) % partition_count; the
 * coordinator produces commands and job updates that way, and a worker or
 * client reads only the partition its own id hashes to (PROTOCOL.md
 * section 2). The SDK, the benchmark and the tests compute it here.
 */
#ifndef JCPROTO_PARTITION_H
#define JCPROTO_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* jc_murmur2 is the Java-compatible murmur2 hash (seed 0x9747b28c). */
uint32_t jc_murmur2(const void *key, size_t len);

/* jc_murmur2_partition returns the partition a record with this key goes to
 * among partition_cnt partitions, or -1 if partition_cnt <= 0. */
int32_t jc_murmur2_partition(const void *key, size_t len, int32_t partition_cnt);

#endif
