/*
 * passwords.h - what a person logs in with: passwords
 * (Argon2id) and TOTP second factors of admin and reader principals, and the
 * first admin created at first start.
 *
 * The checks themselves (jc_password_check, jc_totp_check) are pure
 * functions, safe from any thread; the token service reads the principal's
 * row, counts failures and locks out inside its own transaction. The
 * functions taking a connection change one principal each, in their own
 * statement or transaction, and return the jc_pr_status of principals.h
 * (JC_PR_INVALID: bad id, wrong role, password length; errstr says which).
 *
 * TOTP secrets are 20 random bytes, stored sealed like HMAC keys (associated
 * data "jobcoord:totp:v1\0<principal>", keys-file key in totp_enc_key_id) or
 * in plain text when there is no keys file.
 */
#ifndef JC_CREDENTIALS_H
#define JC_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "secrets/keyring.h"
#include "principals/principals.h"

#define JC_PASSWORD_MIN 12  /* bytes */
#define JC_PASSWORD_MAX 256 /* bytes */

/* jc_password_hash hashes pw with Argon2id (crypto_pwhash_str, interactive
 * limits: about 64 MiB and a tenth of a second). Returns 0, -1 when out of
 * memory. */
int jc_password_hash(const char *pw, char out[crypto_pwhash_STRBYTES]);

/* jc_password_check returns 0 when pw matches hash_or_null. When
 * hash_or_null is NULL (or not an Argon2 hash) it does the same work
 * against a fixed dummy hash and returns -1, so that an unknown user costs
 * as much as a wrong password. */
int jc_password_check(const char *hash_or_null, const char *pw);

/* jc_password_needs_rehash tells whether hash was made with other limits
 * than jc_password_hash uses today (rehash it after a successful check). */
int jc_password_needs_rehash(const char *hash);

/* jc_principal_set_password sets the password of id, which must be an admin
 * or a reader (JC_PR_INVALID otherwise, or when pw is not
 * JC_PASSWORD_MIN..JC_PASSWORD_MAX bytes long), clears failed_logins and
 * locked_until, and ends its sessions (principal_change.h): every access and
 * refresh token issued before stops working. */
jc_pr_status jc_principal_set_password(PGconn *c, const char *id, const char *pw, char *err,
                                       size_t errsz);

/* jc_principal_unlock clears failed_logins and locked_until of id. */
jc_pr_status jc_principal_unlock(PGconn *c, const char *id, char *err, size_t errsz);

#define JC_TOTP_SECRET_LEN 20
#define JC_TOTP_STEP_S 30
#define JC_TOTP_DIGITS 6
#define JC_TOTP_WINDOW_MAX 10 /* steps either side jc_totp_check looks at, at most */

/* The HMAC of TOTP codes (principals.totp_algorithm, migration 023). */
typedef enum jc_totp_alg { JC_TOTP_SHA256 = 0, JC_TOTP_SHA1 = 1 } jc_totp_alg;

/* jc_totp_alg_parse reads "sha256" or "sha1" (any case). Returns 0 or -1.
 * jc_totp_alg_name is the stored (lowercase) name. (totp.c) */
int jc_totp_alg_parse(const char *s, jc_totp_alg *out);
const char *jc_totp_alg_name(jc_totp_alg alg);

/* jc_principal_totp_enable gives admin or reader id a new random TOTP
 * secret (replacing any previous one), sealed with kr's default key, for
 * codes of algorithm alg, as pending: totp_pending true, totp_enabled
 * false, so that logins do not ask for it until a valid code confirms it
 * (jc_principal_totp_confirm). It copies the secret to secret_out for the
 * operator to enrol (wipe it afterwards). Without a sealing key and
 * without kr's permission to store plain text it stores nothing and
 * returns JC_PR_INVALID (secrets.h). */
jc_pr_status jc_principal_totp_enable(PGconn *c, const jc_keyring *kr, const char *id,
                                      jc_totp_alg alg, uint8_t secret_out[JC_TOTP_SECRET_LEN],
                                      char *err, size_t errsz);

/* jc_principal_totp_confirm confirms id's pending TOTP secret with code (a
 * code of the current step, one either side accepted): totp_enabled true,
 * totp_pending false, the code's step recorded so it cannot be used again.
 * In its own transaction. JC_PR_INVALID (err says which) when id has no
 * pending secret (none, or already confirmed), the code is malformed or
 * wrong (then *wrong_code = 1), or the secret cannot be opened;
 * JC_PR_NOT_FOUND for no such principal. (totp.c) */
jc_pr_status jc_principal_totp_confirm(PGconn *c, const jc_keyring *kr, const char *id,
                                       const char *code, int *wrong_code, char *err, size_t errsz);

/* jc_principal_totp_disable turns TOTP off for id and deletes its secret. */
jc_pr_status jc_principal_totp_disable(PGconn *c, const char *id, char *err, size_t errsz);

/* jc_totp_secret_open opens the TOTP secret of principal id from its row's
 * totp_secret (sealed, len bytes) and totp_enc_key_id (NULL or "": plain).
 * Returns 0, or -1 (key not in kr, wrong row, tampered, wrong length). */
int jc_totp_secret_open(const jc_keyring *kr, const char *id, const uint8_t *sealed, size_t len,
                        const char *enc_key_id_or_null, uint8_t out[JC_TOTP_SECRET_LEN]);

/* jc_totp_code_alg is the RFC 6238 TOTP of step (unix time / 30) with the
 * HMAC of alg and 1..8 digits, computed by liboath; 0 for another digit
 * count. (totp.c) */
uint32_t jc_totp_code_alg(jc_totp_alg alg, const uint8_t *secret, size_t len, uint64_t step,
                          int digits);

/* jc_totp_code is the RFC 6238 TOTP of step (unix time / 30) with
 * HMAC-SHA-256 (the default algorithm) and 6 digits. */
uint32_t jc_totp_code(const uint8_t *secret, size_t len, uint64_t step);

/* jc_totp_code_digits is jc_totp_code with 1..8 digits (RFC 6238's test
 * vectors have 8); 0 for another count. */
uint32_t jc_totp_code_digits(const uint8_t *secret, size_t len, uint64_t step, int digits);

/* jc_totp_check, THE verifier of TOTP codes (logins, confirmations),
 * accepts code (exactly 6 ASCII digits) when it is the code of alg of
 * a step in now-window..now+window (window capped at JC_TOTP_WINDOW_MAX)
 * that is after last_step (each code works once); every candidate is
 * computed and compared in constant time. *matched_step gets the step to
 * store as the new last step. Returns 0, or -1. */
int jc_totp_check(jc_totp_alg alg, const uint8_t *secret, size_t len, const char *code,
                  int64_t now_s, int window, int64_t last_step, int64_t *matched_step);

/* jc_base32_encode writes the RFC 4648 base32 of n bytes, without padding,
 * NUL-ended, into out (for otpauth:// URIs). Returns its length, or 0 if
 * out (which needs (8n + 4) / 5 + 1 bytes) is too small. */
size_t jc_base32_encode(const uint8_t *in, size_t n, char *out, size_t out_size);

/* jc_principal_bootstrap_admin creates admin username with password (and an
 * HMAC key, made as jc_principal_create does and discarded) when no
 * principal with role admin exists and password is non-empty: in one
 * transaction under an advisory lock, so two coordinators starting at once
 * create one. *created = 1 when it did. JC_PR_EXISTS when username is taken
 * by a principal of another role. */
jc_pr_status jc_principal_bootstrap_admin(PGconn *c, const jc_keyring *kr, const char *username,
                                          const char *password, int *created, char *err,
                                          size_t errsz);

/* jc_totp_reencrypt moves the stored TOTP secrets matching o to
 * o->target_key_id (NULL: plain text), as jc_principal_reencrypt does for
 * HMAC keys (o->principal_id: only that principal's). */
jc_pr_status jc_totp_reencrypt(PGconn *c, const jc_keyring *kr, const jc_reencrypt_opts *o,
                               jc_reencrypt_counts *counts, char *err, size_t errsz);

#endif
