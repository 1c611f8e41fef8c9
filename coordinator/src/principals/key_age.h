/*
 * key_age.h - the maximum age of HMAC keys (auth.max_key_age_s) and the
 * warning before it.
 *
 * With auth.max_key_age_s set, a key created longer ago than that is
 * refused like a rotated-out key whose valid_until has passed: ingest
 * rejects its messages (key_expired, judged by the time Kafka received
 * them, as valid_until is; hmac_keycache.c folds the age limit into the
 * key's valid_until), the token endpoint refuses its client assertions.
 * Nothing is deleted or rewritten: changing the setting takes effect at
 * once, both ways. Before a key reaches the limit it is "aging" for
 * auth.key_age_warn_s (default a tenth of the limit): /v1/status, the
 * dashboard, `jobcoord-admin status` and the metric
 * jobcoord_keys_near_max_age count it, so that an operator rotates it
 * (`user rotate-key`) in time. A principal whose current key is past the
 * limit can no longer authenticate with it (jobcoord_keys_past_max_age).
 */
#ifndef JC_KEY_AGE_H
#define JC_KEY_AGE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "core/config.h"

/* JC_SQL_KEY_AGE_END(k, max) is when key row k ages out (NULL when max, a
 * SQL expression in seconds, is 0: no limit). */
#define JC_SQL_KEY_AGE_END(k, max) \
    "(CASE WHEN (" max ") > 0 THEN " k ".created_at + make_interval(secs => (" max ")) END)"

/* JC_SQL_KEY_AGING(k, max, warn) holds for a key still accepted (current,
 * or rotated out within its grace) that ages out within warn seconds;
 * JC_SQL_KEY_AGED(k, max) for a current key past the limit. */
#define JC_SQL_KEY_AGING(k, max, warn) \
    "((" max ") > 0 AND (" k ".valid_until IS NULL OR " k ".valid_until > now())"        \
    " AND " JC_SQL_KEY_AGE_END(k, max) " > now()"                                        \
    " AND " JC_SQL_KEY_AGE_END(k, max) " <= now() + make_interval(secs => (" warn ")))"
#define JC_SQL_KEY_AGED(k, max) \
    "((" max ") > 0 AND " k ".valid_until IS NULL AND " JC_SQL_KEY_AGE_END(k, max) " <= now())"

/* jc_key_age_window is the warning window in seconds (0: key age off). */
long jc_key_age_window(const jc_config *cfg);

typedef struct jc_key_age_counts {
    long aging;                              /* keys that age out within the window */
    long aged;                               /* current keys past the limit */
    char first_principal[65], first_key[65]; /* the one that ages out (or aged out) first */
    char first_at[24];                       /* when, ISO 8601 UTC; "" when none */
} jc_key_age_counts;

/* jc_key_age_count fills out (all zero when key age is off). Returns 0, or
 * -1 with errstr. Runs one statement in the caller's transaction, if any. */
int jc_key_age_count(PGconn *db, const jc_config *cfg, jc_key_age_counts *out, char *errstr,
                     size_t errstr_size);

/* jc_key_age_warning writes the warning about c into out; returns 0 when
 * there is nothing to warn of. */
int jc_key_age_warning(const jc_config *cfg, const jc_key_age_counts *c, char *out, size_t n);

#endif
