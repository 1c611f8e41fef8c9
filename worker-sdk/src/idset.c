/*
 * idset.c - the last N ids, in a ring (arrival order, for eviction) indexed
 * by a chained hash table whose chains link ring slots. Memory is fixed at
 * creation: nothing received can make it grow.
 */
#include "idset.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

typedef struct slot {
    uint8_t id[JC_ID_LEN];
    uint32_t next; /* next slot in the same bucket, or NONE */
    int used;
} slot;

struct jc_idset {
    slot *ring;
    uint32_t cap, head; /* head: the slot the next id goes to (the oldest when full) */
    uint32_t *buckets;  /* n_buckets heads of slot chains */
    uint32_t mask;      /* n_buckets - 1 */
};

// bucket_of hashes an id (FNV-1a) to a bucket.
static uint32_t bucket_of(const jc_idset *s, const uint8_t id[JC_ID_LEN])
{
    uint32_t h = 2166136261u;

    for (int i = 0; i < JC_ID_LEN; i++) {
        h ^= id[i];
        h *= 16777619u;
    }
    return h & s->mask;
}

jc_idset *jc_idset_new(uint32_t cap)
{
    jc_idset *s = calloc(1, sizeof *s);
    uint32_t n_buckets = 1;

    if (!s || cap == 0 || cap > (1u << 24))
        goto fail;
    while (n_buckets < cap * 2)
        n_buckets <<= 1;
    s->cap = cap;
    s->mask = n_buckets - 1;
    s->ring = calloc(cap, sizeof *s->ring);
    s->buckets = malloc(n_buckets * sizeof *s->buckets);
    if (!s->ring || !s->buckets)
        goto fail;
    for (uint32_t i = 0; i < n_buckets; i++)
        s->buckets[i] = NONE;
    return s;
fail:
    jc_idset_destroy(s);
    return NULL;
}

// unlink_slot removes ring slot i from its bucket's chain.
static void unlink_slot(jc_idset *s, uint32_t i)
{
    uint32_t *link = &s->buckets[bucket_of(s, s->ring[i].id)];

    while (*link != NONE && *link != i)
        link = &s->ring[*link].next;
    if (*link == i)
        *link = s->ring[i].next;
}

int jc_idset_add(jc_idset *s, const uint8_t id[JC_ID_LEN])
{
    uint32_t b = bucket_of(s, id), i;

    for (i = s->buckets[b]; i != NONE; i = s->ring[i].next)
        if (memcmp(s->ring[i].id, id, JC_ID_LEN) == 0)
            return 0;
    i = s->head;
    if (s->ring[i].used)
        unlink_slot(s, i);
    memcpy(s->ring[i].id, id, JC_ID_LEN);
    s->ring[i].used = 1;
    s->ring[i].next = s->buckets[b];
    s->buckets[b] = i;
    s->head = (i + 1) % s->cap;
    return 1;
}

void jc_idset_destroy(jc_idset *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s->buckets);
    free(s);
}
