/*
 * keyring.h - encryption at rest of secrets kept in PostgreSQL (principals'
 * HMAC keys, later the token signing keys).
 *
 * Keys come from the keys file, a libconfig file mapping key ids to
 * "algorithm:base64(32 bytes)":
 *     keys = { k2026a = "xchacha20poly1305:3q2+7w...=" };
 * The configured security.encryption_key_id names the key that new secrets
 * are sealed with; every key in the file can open. Sealed form:
 * nonce (24 bytes) || ciphertext || tag (16 bytes), XChaCha20-Poly1305-IETF,
 * with associated data that binds the ciphertext to its row, so a sealed
 * secret copied to another row does not open. With no keys file, new
 * secrets are refused (secrets.h), unless the keyring was told that plain
 * text is allowed (security.allow_plaintext): then they are stored in plain
 * text (enc_key_id NULL) and the coordinator warns. Secrets already stored
 * in plain text are read either way.
 */
#ifndef JC_KEYRING_H
#define JC_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#define JC_KEYRING_NONCE_LEN 24
#define JC_KEYRING_TAG_LEN 16
#define JC_KEYRING_OVERHEAD (JC_KEYRING_NONCE_LEN + JC_KEYRING_TAG_LEN)

typedef struct jc_keyring jc_keyring;

/* jc_keyring_load reads path (NULL or "" gives an empty keyring: plain-text
 * storage). default_id names the sealing key; it must exist in the file when
 * a file is given. Returns NULL with errstr on any error. */
jc_keyring *jc_keyring_load(const char *path, const char *default_id, char *errstr,
                            size_t errstr_size);

/* jc_keyring_default_id returns the id new secrets are sealed with, or NULL
 * when the keyring is empty (plain-text storage). */
const char *jc_keyring_default_id(const jc_keyring *kr);

/* jc_keyring_allow_plaintext sets whether secrets may be stored in plain
 * text when the keyring has no sealing key (security.allow_plaintext); a
 * keyring starts without that permission. jc_keyring_plaintext_allowed
 * reads it (0 for a NULL keyring). */
void jc_keyring_allow_plaintext(jc_keyring *kr, int allow);
int jc_keyring_plaintext_allowed(const jc_keyring *kr);

/* jc_keyring_has tells whether the keyring holds key id. */
int jc_keyring_has(const jc_keyring *kr, const char *id);

/* jc_keyring_seal encrypts plain with key id (NULL: the default). out must
 * hold plain_len + JC_KEYRING_OVERHEAD bytes. Returns 0, -1 if id unknown. */
int jc_keyring_seal(const jc_keyring *kr, const char *id, const uint8_t *ad, size_t ad_len,
                    const uint8_t *plain, size_t plain_len, uint8_t *out, size_t *out_len);

/* jc_keyring_open decrypts sealed with key id. out must hold sealed_len -
 * JC_KEYRING_OVERHEAD bytes. Returns 0; -1 if the id is unknown, the input
 * is short or the tag does not verify (wrong key, wrong row, tampered). */
int jc_keyring_open(const jc_keyring *kr, const char *id, const uint8_t *ad, size_t ad_len,
                    const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t *out_len);

/* jc_keyring_principal_ad builds the associated data for a principal key
 * row: "jobcoord:principal_key:v1\0<principal>\0<key_id>". Returns its
 * length, or 0 if out is too small. */
size_t jc_keyring_principal_ad(const char *principal, const char *key_id, uint8_t *out,
                               size_t out_size);

/* jc_keyring_generate writes a new keys-file value "alg:base64" for alg
 * (xchacha20poly1305) into out. Returns -1 for an unknown algorithm. */
int jc_keyring_generate(const char *alg, char *out, size_t out_size);

void jc_keyring_free(jc_keyring *kr);

#endif
