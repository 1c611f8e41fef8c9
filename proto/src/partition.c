/*
 * partition.c - Kafka's default partitioner for keyed records (see
 * jcproto/partition.h).
 */
#include "jcproto/partition.h"

uint32_t jc_murmur2(const void *key, size_t len)
{
    const uint8_t *p = key;
    const uint32_t m = 0x5bd1e995u;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    size_t tail = len & ~(size_t)3;

    for (size_t i = 0; i < tail; i += 4) {
        uint32_t k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                     (uint32_t)p[i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len & 3) {
    case 3: h ^= (uint32_t)p[tail + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)p[tail + 1] << 8;  /* fall through */
    case 1:
        h ^= (uint32_t)p[tail];
        h *= m;
        break;
    default: break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t jc_murmur2_partition(const void *key, size_t len, int32_t partition_cnt)
{
    if (partition_cnt <= 0)
        return -1;
    return (int32_t)((jc_murmur2(key, len) & 0x7fffffffu) % (uint32_t)partition_cnt);
}
