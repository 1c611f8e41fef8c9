/*
 * signing_keys.h - the Ed25519 keys that sign access tokens,
 * in table signing_keys.
 *
 * One key is active (retired_at NULL): new tokens are signed with it. A
 * rotation retires it with valid_until = now + grace, so tokens it signed
 * still verify (and the JWKS still publishes it) until they expire. Only the
 * 32-byte seed is stored, sealed with the keyring's default key (associated
 * data "jobcoord:signing_key:v1\0<kid>"), or in plain text when there is no
 * keys file, like principals' HMAC keys; the secret key is derived from it
 * with crypto_sign_seed_keypair when loaded, and checked against the stored
 * public key.
 *
 * Every function takes the connection of the calling thread and runs its
 * own transaction(s); on error it has rolled back and filled err.
 */
#ifndef JC_SIGNING_H
#define JC_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "secrets/keyring.h"
#include "principals/principals.h"

#define JC_SIGNING_KID_MAX 64
#define JC_SIGNING_SEED_LEN 32 /* crypto_sign_SEEDBYTES */

typedef struct jc_signing_key {
    char kid[JC_SIGNING_KID_MAX + 1];   /* "s" + 12 hex digits, random */
    uint8_t pk[32];                      /* crypto_sign_PUBLICKEYBYTES */
    uint8_t sk[64];                      /* crypto_sign_SECRETKEYBYTES, filled by jc_signing_load only */
    int active;                          /* retired_at IS NULL */
    int64_t created_at_ms, retired_at_ms, valid_until_ms; /* 0 when NULL */
    char enc_key_id[65];                 /* "" plain */
} jc_signing_key;

/* jc_signing_ensure creates an active key when there is none (first start).
 * Two processes racing are serialized by an advisory lock (and the unique
 * index on the active key backs it). *created = 1 if it made one. Returns 0,
 * -1, or -2 when a key must be made but would be stored in plain text and kr
 * does not allow that (secrets.h): nothing is stored. */
int jc_signing_ensure(PGconn *c, const jc_keyring *kr, int *created, char *err, size_t errsz);

/* jc_signing_load loads the active key, then the retired keys whose
 * valid_until is still ahead (newest first), secrets opened with kr: at most
 * max of them into out. Returns the count, or -1 (a key that cannot be
 * opened, or whose seed does not give its public key, is an error). The
 * caller wipes out (sodium_memzero) when done. */
int jc_signing_load(PGconn *c, const jc_keyring *kr, jc_signing_key *out, int max, char *err,
                    size_t errsz);

/* jc_signing_rotate makes a new active key; the previous active one (if
 * any) retires now with valid_until = now + grace_s (0..JC_PRINCIPAL_GRACE_MAX).
 * One transaction. Fills *made (sk zeroed). Returns 0, -1, or -2 (nothing
 * changed) when the new key would be stored in plain text and kr does not
 * allow that. */
int jc_signing_rotate(PGconn *c, const jc_keyring *kr, long grace_s, jc_signing_key *made,
                      char *err, size_t errsz);

/* jc_signing_rotate_report is jc_signing_rotate that also reports the key it
 * retired in *retired (kid "" when there was no active key); retired may be
 * NULL. */
int jc_signing_rotate_report(PGconn *c, const jc_keyring *kr, long grace_s, jc_signing_key *made,
                             jc_signing_key *retired, char *err, size_t errsz);

/* jc_signing_list reads every row, newest first, without secrets (sk
 * zeroed), into *out (malloc'd, free() it; NULL when *n is 0). Returns 0 or
 * -1. */
int jc_signing_list(PGconn *c, jc_signing_key **out, int *n, char *err, size_t errsz);

/* jc_signing_reencrypt moves the stored seeds to o->target_key_id (NULL:
 * plain text), as jc_principal_reencrypt does for principals' keys. Signing
 * keys belong to no principal: with o->principal_id set nothing matches. */
jc_pr_status jc_signing_reencrypt(PGconn *c, const jc_keyring *kr, const jc_reencrypt_opts *o,
                                  jc_reencrypt_counts *counts, char *err, size_t errsz);

#endif
