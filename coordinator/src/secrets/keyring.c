/*
 * keyring.c - the keys that seal secrets at rest (see keyring.h).
 *
 * The keys file is read once with libconfig into a small array of
 * (id, 32-byte key); lookups are a linear scan, since a keys file holds a
 * handful of keys (the current one and those still to be re-encrypted
 * away from). Key bytes are wiped with sodium_memzero when the keyring is
 * freed and on every error path. Sealing uses a fresh random 24-byte nonce
 * per secret: with XChaCha20 random nonces are safe for any realistic
 * number of secrets.
 */
#include "secrets/keyring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>
#include <sodium.h>

#define KEYRING_ALG "xchacha20poly1305"
#define KEYRING_KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define KEYRING_ID_MAX 64
#define KEYRING_MAX_KEYS 256

typedef struct keyring_key {
    char id[KEYRING_ID_MAX + 1];
    uint8_t key[KEYRING_KEY_LEN];
} keyring_key;

struct jc_keyring {
    keyring_key *keys;
    size_t n_keys;
    char *default_id; /* NULL: plain-text storage, if allow_plain */
    int allow_plain;  /* security.allow_plaintext */
};

/* valid_id tells whether id fits the key id rule of the schema:
 * 1-64 of [A-Za-z0-9._:@-]. */
static int valid_id(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > KEYRING_ID_MAX)
        return 0;
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-") == n;
}

/* find_key returns the key named id, or NULL (also for a NULL keyring). */
static const keyring_key *find_key(const jc_keyring *kr, const char *id)
{
    if (!kr || !id)
        return NULL;
    for (size_t i = 0; i < kr->n_keys; i++) {
        if (strcmp(kr->keys[i].id, id) == 0)
            return &kr->keys[i];
    }
    return NULL;
}

/* parse_key decodes one keys-file value "alg:base64" into k->key. */
static int parse_key(const char *path, const config_setting_t *s, keyring_key *k, char *errstr,
                     size_t errstr_size)
{
    const char *value = config_setting_get_string(s);
    const char *colon;
    size_t bin_len = 0;
    const char *b64_end = NULL;
    uint8_t buf[KEYRING_KEY_LEN + 1];
    int rc = -1;

    colon = value ? strchr(value, ':') : NULL;
    if (!colon) {
        snprintf(errstr, errstr_size,
                 "%s:%u: key '%s' must be a string \"" KEYRING_ALG ":BASE64\"", path,
                 config_setting_source_line(s), k->id);
        goto out;
    }
    if ((size_t)(colon - value) != strlen(KEYRING_ALG) ||
        strncmp(value, KEYRING_ALG, strlen(KEYRING_ALG)) != 0) {
        snprintf(errstr, errstr_size,
                 "%s:%u: key '%s' has unknown algorithm '%.*s' (supported: " KEYRING_ALG ")",
                 path, config_setting_source_line(s), k->id, (int)(colon - value), value);
        goto out;
    }
    if (sodium_base642bin(buf, sizeof buf, colon + 1, strlen(colon + 1), NULL, &bin_len,
                          &b64_end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *b64_end != '\0') {
        snprintf(errstr, errstr_size, "%s:%u: key '%s' is not valid base64 (or too long)", path,
                 config_setting_source_line(s), k->id);
        goto out;
    }
    if (bin_len != KEYRING_KEY_LEN) {
        snprintf(errstr, errstr_size, "%s:%u: key '%s' must be %d bytes, not %zu", path,
                 config_setting_source_line(s), k->id, KEYRING_KEY_LEN, bin_len);
        goto out;
    }
    memcpy(k->key, buf, KEYRING_KEY_LEN);
    rc = 0;
out:
    sodium_memzero(buf, sizeof buf);
    return rc;
}

/* read_keys fills kr from the "keys" group of the file path. */
static int read_keys(jc_keyring *kr, const char *path, char *errstr, size_t errstr_size)
{
    config_t lc;
    config_setting_t *root, *keys;
    FILE *f;
    int n, rc = -1;

    f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot read keys file '%s': %s", path, strerror(errno));
        return -1;
    }
    fclose(f);

    config_init(&lc);
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        snprintf(errstr, errstr_size, "keys file %s:%d: %s", path, config_error_line(&lc),
                 config_error_text(&lc));
        goto out;
    }
    root = config_root_setting(&lc);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned int)i);
        if (strcmp(config_setting_name(s), "keys") != 0) {
            snprintf(errstr, errstr_size, "keys file %s:%u: unknown setting '%s' (expected "
                     "only 'keys')", path, config_setting_source_line(s), config_setting_name(s));
            goto out;
        }
    }
    keys = config_lookup(&lc, "keys");
    if (!keys || !config_setting_is_group(keys)) {
        snprintf(errstr, errstr_size, "keys file %s: no group 'keys = { id = \"...\"; }'", path);
        goto out;
    }
    n = config_setting_length(keys);
    if (n == 0 || n > KEYRING_MAX_KEYS) {
        snprintf(errstr, errstr_size, "keys file %s: 'keys' must hold 1 to %d keys, not %d", path,
                 KEYRING_MAX_KEYS, n);
        goto out;
    }
    kr->keys = calloc((size_t)n, sizeof *kr->keys);
    if (!kr->keys) {
        snprintf(errstr, errstr_size, "keys file %s: out of memory", path);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(keys, (unsigned int)i);
        keyring_key *k = &kr->keys[kr->n_keys];
        const char *name = config_setting_name(s);

        if (!valid_id(name)) {
            snprintf(errstr, errstr_size, "keys file %s:%u: invalid key id '%s'", path,
                     config_setting_source_line(s), name);
            goto out;
        }
        snprintf(k->id, sizeof k->id, "%s", name);
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
            snprintf(errstr, errstr_size,
                     "keys file %s:%u: key '%s' must be a string \"" KEYRING_ALG ":BASE64\"",
                     path, config_setting_source_line(s), name);
            goto out;
        }
        if (parse_key(path, s, k, errstr, errstr_size) != 0)
            goto out;
        kr->n_keys++;
    }
    rc = 0;
out:
    config_destroy(&lc);
    return rc;
}

jc_keyring *jc_keyring_load(const char *path, const char *default_id, char *errstr,
                            size_t errstr_size)
{
    jc_keyring *kr = NULL;
    int rc = -1;

    if (sodium_init() < 0) {
        snprintf(errstr, errstr_size, "libsodium cannot be initialized");
        return NULL;
    }
    kr = calloc(1, sizeof *kr);
    if (!kr) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (!path || !*path) {
        rc = 0;
        goto out;
    }
    if (read_keys(kr, path, errstr, errstr_size) != 0)
        goto out;
    if (!default_id || !*default_id) {
        snprintf(errstr, errstr_size,
                 "security.encryption_key_id must name the key of %s that seals new secrets",
                 path);
        goto out;
    }
    if (!find_key(kr, default_id)) {
        snprintf(errstr, errstr_size,
                 "security.encryption_key_id '%s' is not a key of keys file %s", default_id, path);
        goto out;
    }
    kr->default_id = strdup(default_id);
    if (!kr->default_id) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        jc_keyring_free(kr);
        kr = NULL;
    }
    return kr;
}

const char *jc_keyring_default_id(const jc_keyring *kr)
{
    return kr ? kr->default_id : NULL;
}

void jc_keyring_allow_plaintext(jc_keyring *kr, int allow)
{
    if (kr)
        kr->allow_plain = allow ? 1 : 0;
}

int jc_keyring_plaintext_allowed(const jc_keyring *kr)
{
    return kr ? kr->allow_plain : 0;
}

int jc_keyring_has(const jc_keyring *kr, const char *id)
{
    return find_key(kr, id) != NULL;
}

int jc_keyring_seal(const jc_keyring *kr, const char *id, const uint8_t *ad, size_t ad_len,
                    const uint8_t *plain, size_t plain_len, uint8_t *out, size_t *out_len)
{
    const keyring_key *k = find_key(kr, id ? id : jc_keyring_default_id(kr));
    unsigned long long clen = 0;

    if (!k)
        return -1;
    randombytes_buf(out, JC_KEYRING_NONCE_LEN);
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + JC_KEYRING_NONCE_LEN, &clen, plain,
                                                   plain_len, ad, ad_len, NULL, out,
                                                   k->key) != 0)
        return -1;
    *out_len = JC_KEYRING_NONCE_LEN + (size_t)clen;
    return 0;
}

int jc_keyring_open(const jc_keyring *kr, const char *id, const uint8_t *ad, size_t ad_len,
                    const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t *out_len)
{
    const keyring_key *k = find_key(kr, id);
    unsigned long long mlen = 0;

    if (!k || sealed_len < JC_KEYRING_OVERHEAD)
        return -1;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, sealed + JC_KEYRING_NONCE_LEN,
                                                   sealed_len - JC_KEYRING_NONCE_LEN, ad, ad_len,
                                                   sealed, k->key) != 0)
        return -1;
    *out_len = (size_t)mlen;
    return 0;
}

size_t jc_keyring_principal_ad(const char *principal, const char *key_id, uint8_t *out,
                               size_t out_size)
{
    static const char prefix[] = "jobcoord:principal_key:v1";
    size_t lp = strlen(principal), lk = strlen(key_id);
    size_t n = sizeof prefix + lp + 1 + lk; /* sizeof counts the first NUL */

    if (n > out_size)
        return 0;
    memcpy(out, prefix, sizeof prefix);
    memcpy(out + sizeof prefix, principal, lp + 1);
    memcpy(out + sizeof prefix + lp + 1, key_id, lk);
    return n;
}

int jc_keyring_generate(const char *alg, char *out, size_t out_size)
{
    uint8_t key[KEYRING_KEY_LEN];
    char b64[sodium_base64_ENCODED_LEN(KEYRING_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
    int rc = -1;

    if (!alg || strcmp(alg, KEYRING_ALG) != 0 || sodium_init() < 0)
        return -1;
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    if ((size_t)snprintf(out, out_size, "%s:%s", KEYRING_ALG, b64) >= out_size) {
        sodium_memzero(out, out_size);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(key, sizeof key);
    sodium_memzero(b64, sizeof b64);
    return rc;
}

void jc_keyring_free(jc_keyring *kr)
{
    if (!kr)
        return;
    if (kr->keys) {
        sodium_memzero(kr->keys, kr->n_keys * sizeof *kr->keys);
        free(kr->keys);
    }
    free(kr->default_id);
    free(kr);
}
