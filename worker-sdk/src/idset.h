/*
 * idset.h - a bounded set of the most recent 16-byte ids (commands a worker
 * has seen), for dropping duplicates.
 */
#ifndef JC_SDK_IDSET_H
#define JC_SDK_IDSET_H

#include <stdint.h>

#include "jcproto/proto.h"

typedef struct jc_idset jc_idset;

/* jc_idset_new returns a set remembering the last cap ids (cap >= 1), or
 * NULL when out of memory. */
jc_idset *jc_idset_new(uint32_t cap);

/* jc_idset_add adds id and returns 1, or returns 0 when id is among the
 * last cap ids added. Adding to a full set forgets the oldest id. */
int jc_idset_add(jc_idset *s, const uint8_t id[JC_ID_LEN]);

/* jc_idset_destroy frees s. NULL allowed. */
void jc_idset_destroy(jc_idset *s);

#endif
