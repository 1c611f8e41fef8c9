/*
 * sealed_columns.h - how every table that keeps secrets (principals' HMAC keys,
 * token signing seeds, TOTP secrets) stores them, and the re-encryption
 * that moves them from one keys-file key to another.
 *
 * A stored secret is sealed with a keys-file key and bound to its row by
 * associated data (keyring.h), or kept in plain text when there is no keys
 * file (enc_key_id NULL) and the keyring allows it (security.allow_plaintext):
 * without that permission every path that would store a secret in plain
 * text refuses, with the message of jc_secret_plain_refused; reading a
 * plain secret needs no permission. A re-encryption runs batch by batch,
 * each batch one transaction that locks its rows with FOR UPDATE SKIP
 * LOCKED, so that a long run neither holds locks on every row at once nor
 * loses its progress on an error. The options and counts (jc_reencrypt_opts,
 * jc_reencrypt_counts) and the status it returns are principals.h's, which
 * is what the admin CLI passes around.
 */
#ifndef JC_SECRETS_H
#define JC_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "secrets/keyring.h"
#include "principals/principals.h"

#define JC_SECRET_MAX 64 /* the longest secret jc_secret_open opens */

/* jc_secret_plain_refused tells whether storing a secret with enc_id (NULL:
 * plain text) is refused: 1 when enc_id is NULL and kr does not allow plain
 * text, with errstr saying so, naming what ("the key of 'w1'") and the
 * settings that would allow it; else 0. */
int jc_secret_plain_refused(const jc_keyring *kr, const char *enc_id, const char *what,
                            char *errstr, size_t errstr_size);

/* jc_secret_store gives the stored form of a secret: sealed with keys-file
 * key enc_id and bound to its row by ad, or a plain copy when enc_id is
 * NULL and kr allows plain text. out must hold plain_len +
 * JC_KEYRING_OVERHEAD bytes. Returns 0, -1 if enc_id is not in kr or plain
 * text is refused (callers ask jc_secret_plain_refused first, for the
 * message). */
int jc_secret_store(const jc_keyring *kr, const char *enc_id, const uint8_t *ad, size_t ad_len,
                    const uint8_t *plain, size_t plain_len, uint8_t *out, size_t *out_len);

/* jc_secret_open is the inverse (enc_id NULL or "": plain): it writes
 * exactly want_len (at most JC_SECRET_MAX) bytes to out, or returns -1
 * (unknown key, wrong row, tampered, or not want_len bytes long). */
int jc_secret_open(const jc_keyring *kr, const char *enc_id, const uint8_t *ad, size_t ad_len,
                   const uint8_t *stored, size_t stored_len, uint8_t *out, size_t want_len);

/* The kinds of stored secrets, as jc_secret_count_plain counts them. */
enum { JC_SECRETS_PRINCIPAL_KEYS, JC_SECRETS_SIGNING_KEYS, JC_SECRETS_TOTP, JC_SECRETS_KINDS };

/* jc_secret_count_plain counts the secrets stored in plain text, by kind:
 * principals' HMAC keys, token signing keys, TOTP secrets. Returns 0, or -1
 * with errstr. */
int jc_secret_count_plain(PGconn *c, long counts[JC_SECRETS_KINDS], char *errstr,
                          size_t errstr_size);

/* jc_secret_plain_warning is the warning about plain text at rest that the
 * daemon logs at start and /v1/status and `jobcoord-admin status` show:
 * how many secrets are stored in plain text and how to seal them, or, with
 * none stored yet, that new ones would be (no keys file and
 * security.allow_plaintext true). sealing says whether a keys file key
 * seals new secrets (security.keys_file with security.encryption_key_id).
 * Returns 1 with the text in out, 0 when there is nothing to say, -1 with
 * errstr when the count failed. */
int jc_secret_plain_warning(PGconn *c, int sealing, int allow_plaintext, char *out, size_t out_size,
                            char *errstr, size_t errstr_size);

/* A table of secrets, for jc_reencrypt_run. The statements take their
 * parameters in this order:
 *   select: $1 target key (NULL: plain), [$2 principal filter,] current-key
 *           filter, limit; returns the n_ids id columns, then the secret
 *           (bytea), then its enc_key_id, locked FOR UPDATE SKIP LOCKED;
 *   count:  the same filters without the limit: the rows not yet moved;
 *   update: the n_ids ids, the new secret (binary), the new enc_key_id.
 * The principal filter is passed only when principal_filter is set. ad
 * builds a row's associated data from its ids (0: does not fit out_size,
 * which is at most ad_max); name writes how messages call the row's
 * secret ("signing key 'k'"). */
typedef struct jc_reencrypt_table {
    const char *select_sql;
    const char *count_sql;
    const char *update_sql;
    int n_ids; /* 1 or 2 */
    int principal_filter;
    size_t secret_len; /* at most JC_SECRET_MAX */
    size_t ad_max;
    size_t (*ad)(const char *const *ids, uint8_t *out, size_t out_size);
    void (*name)(const char *const *ids, char *out, size_t out_size);
} jc_reencrypt_table;

/* jc_reencrypt_run rewrites the secrets of table t matching o that are not
 * yet stored the way o->target_key_id asks. A secret sealed with a key
 * missing from kr stops the run with JC_PR_ERROR (errstr filled); batches
 * already committed stay, and counts tells how far it got. A bad batch size
 * or limit, a target missing from kr, or a plain-text target (NULL) kr does
 * not allow, gives JC_PR_INVALID. */
jc_pr_status jc_reencrypt_run(PGconn *c, const jc_keyring *kr, const jc_reencrypt_table *t,
                              const jc_reencrypt_opts *o, jc_reencrypt_counts *counts,
                              char *errstr, size_t errstr_size);

#endif
