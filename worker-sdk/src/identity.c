/*
 * identity.c - the principal's keys in an SDK handle, and taking a key
 * rotation without a restart (see identity.h).
 */
#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

/* How long the previous key still verifies once a message verified with
 * the new one: coordinator instances that signed with the previous key a
 * moment before they saw the switch may still have messages in flight. */
#define SETTLE_MS 30000
#define LINE_MAX_BYTES 256

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

// parse_key reads "[KEY_ID ]BASE64" (line, no newline) into key_id and key;
// default_key_id is used when the line names none.
static jc_err_t parse_key(const char *line, const char *default_key_id, const char *where,
                          char key_id[JC_MAX_KEY_ID_LEN + 1], uint8_t key[JC_KEY_LEN],
                          char *errstr, size_t errstr_size)
{
    const char *b64 = line, *sp;
    size_t bin_len = 0, id_len;

    while (*b64 == ' ' || *b64 == '\t')
        b64++;
    sp = b64 + strcspn(b64, " \t");
    if (*sp) {
        const char *rest = sp + strspn(sp, " \t");
        if (*rest) { /* two words: key id, then the key */
            id_len = (size_t)(sp - b64);
            if (!jc_name_valid((const uint8_t *)b64, id_len, JC_MAX_KEY_ID_LEN)) {
                snprintf(errstr, errstr_size, "%s: '%.*s' is not a valid key id", where,
                         (int)(id_len < 64 ? id_len : 64), b64);
                return JC_ERR_INVALID_CONF;
            }
            memcpy(key_id, b64, id_len);
            key_id[id_len] = '\0';
            b64 = rest;
            default_key_id = NULL;
        }
    }
    if (default_key_id) {
        if (!*default_key_id) {
            snprintf(errstr, errstr_size, "key.id is missing or not a valid key id");
            return JC_ERR_INVALID_CONF;
        }
        snprintf(key_id, JC_MAX_KEY_ID_LEN + 1, "%s", default_key_id);
    }
    if (sodium_base642bin(key, JC_KEY_LEN, b64, strlen(b64), " \t", &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != JC_KEY_LEN) {
        snprintf(errstr, errstr_size, "%s: the key must be the base64 of %d bytes", where,
                 JC_KEY_LEN);
        return JC_ERR_INVALID_CONF;
    }
    return JC_OK;
}

// read_key_file reads the first line of path into key_id and key, and the
// file's identity into st.
static jc_err_t read_key_file(const char *path, const char *default_key_id,
                              char key_id[JC_MAX_KEY_ID_LEN + 1], uint8_t key[JC_KEY_LEN],
                              struct stat *st, char *errstr, size_t errstr_size)
{
    char line[LINE_MAX_BYTES];
    jc_err_t err;
    FILE *f = fopen(path, "r");

    if (!f) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path, strerror(errno));
        return JC_ERR_IO;
    }
    if (fstat(fileno(f), st) != 0 || !fgets(line, sizeof line, f)) {
        fclose(f);
        snprintf(errstr, errstr_size, "%s is empty", path);
        return JC_ERR_IO;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    err = parse_key(line, default_key_id, path, key_id, key, errstr, errstr_size);
    sodium_memzero(line, sizeof line);
    return err;
}

static void remember_stat(jc_identity *id, const struct stat *st)
{
    id->have_stat = 1;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int same_stat(const jc_identity *id, const struct stat *st)
{
    return id->have_stat && id->dev == st->st_dev && id->ino == st->st_ino &&
           id->size == st->st_size &&
           id->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

jc_err_t jc_sdk_identity(const jc_conf_t *conf, jc_identity *id, char *errstr,
                         size_t errstr_size)
{
    const char *principal = jc_conf_get(conf, "principal");
    const char *key_id = jc_conf_get(conf, "key.id");
    const char *key = jc_conf_get(conf, "key");
    const char *key_file = jc_conf_get(conf, "key.file");
    const char *reload = jc_conf_get(conf, "key.reload.ms");
    struct stat st;
    jc_err_t err;

    memset(id, 0, sizeof *id);
    pthread_mutex_init(&id->mu, NULL);
    id->mu_ready = 1;
    if (!principal || !jc_name_valid((const uint8_t *)principal, strlen(principal),
                                     JC_MAX_PRINCIPAL_LEN)) {
        snprintf(errstr, errstr_size, "principal is missing or not a valid id");
        return JC_ERR_INVALID_CONF;
    }
    if (key_id && !jc_name_valid((const uint8_t *)key_id, strlen(key_id), JC_MAX_KEY_ID_LEN)) {
        snprintf(errstr, errstr_size, "key.id is not a valid key id");
        return JC_ERR_INVALID_CONF;
    }
    snprintf(id->conf_key_id, sizeof id->conf_key_id, "%s", key_id ? key_id : "");
    if (sodium_init() < 0) {
        snprintf(errstr, errstr_size, "libsodium failed to initialise");
        return JC_ERR_IO;
    }
    if (key) {
        err = parse_key(key, id->conf_key_id, "key", id->key_id, id->key, errstr, errstr_size);
    } else if (key_file) {
        id->key_file = strdup(key_file);
        if (!id->key_file) {
            snprintf(errstr, errstr_size, "out of memory");
            return JC_ERR_NOMEM;
        }
        err = read_key_file(key_file, id->conf_key_id, id->key_id, id->key, &st, errstr,
                            errstr_size);
        if (!err)
            remember_stat(id, &st);
    } else {
        snprintf(errstr, errstr_size, "key or key.file is required");
        return JC_ERR_INVALID_CONF;
    }
    if (err)
        return err;
    id->reload_ms = reload ? atoi(reload) : 1000;
    id->checked_ms = mono_ms();
    snprintf(id->principal, sizeof id->principal, "%s", principal);
    return JC_OK;
}

void jc_identity_destroy(jc_identity *id)
{
    if (!id)
        return;
    free(id->key_file);
    if (id->mu_ready)
        pthread_mutex_destroy(&id->mu);
    sodium_memzero(id, sizeof *id);
}

// take_locked makes (key_id, key) the signing key; the old one verifies on.
static void take_locked(jc_identity *id, const char *key_id, const uint8_t key[JC_KEY_LEN])
{
    if (strcmp(key_id, id->key_id) == 0 && sodium_memcmp(key, id->key, JC_KEY_LEN) == 0)
        return;
    memcpy(id->prev_key_id, id->key_id, sizeof id->prev_key_id);
    memcpy(id->prev_key, id->key, JC_KEY_LEN);
    id->has_prev = 1;
    id->prev_until_ms = 0;
    snprintf(id->key_id, sizeof id->key_id, "%s", key_id);
    memcpy(id->key, key, JC_KEY_LEN);
    atomic_fetch_add(&id->reloads, 1);
}

// reload_locked re-reads the key file; force: even if it looks unchanged.
static jc_err_t reload_locked(jc_identity *id, int force, char *errstr, size_t errstr_size)
{
    char key_id[JC_MAX_KEY_ID_LEN + 1];
    uint8_t key[JC_KEY_LEN];
    struct stat st;
    jc_err_t err;

    if (!id->key_file) {
        snprintf(errstr, errstr_size, "the key was given inline (key), not in key.file");
        return JC_ERR_STATE;
    }
    if (!force && stat(id->key_file, &st) == 0 && same_stat(id, &st))
        return JC_OK;
    err = read_key_file(id->key_file, id->conf_key_id, key_id, key, &st, errstr, errstr_size);
    if (!err) {
        take_locked(id, key_id, key);
        remember_stat(id, &st);
    }
    sodium_memzero(key, sizeof key);
    return err;
}

jc_err_t jc_identity_reload(jc_identity *id, char *errstr, size_t errstr_size)
{
    jc_err_t err;
    pthread_mutex_lock(&id->mu);
    err = reload_locked(id, 1, errstr, errstr_size);
    id->checked_ms = mono_ms();
    pthread_mutex_unlock(&id->mu);
    return err;
}

// poll_locked looks at the key file when due, and forgets a settled
// previous key.
static void poll_locked(jc_identity *id, uint64_t now)
{
    char ignored[256];
    if (id->has_prev && id->prev_until_ms && now >= id->prev_until_ms) {
        sodium_memzero(id->prev_key, sizeof id->prev_key);
        id->has_prev = 0;
    }
    if (!id->key_file || id->reload_ms <= 0 || now - id->checked_ms < (uint64_t)id->reload_ms)
        return;
    id->checked_ms = now;
    reload_locked(id, 0, ignored, sizeof ignored);
}

void jc_identity_poll(jc_identity *id)
{
    pthread_mutex_lock(&id->mu);
    poll_locked(id, mono_ms());
    pthread_mutex_unlock(&id->mu);
}

void jc_identity_signer(jc_identity *id, char key_id[JC_MAX_KEY_ID_LEN + 1],
                        uint8_t key[JC_KEY_LEN])
{
    pthread_mutex_lock(&id->mu);
    poll_locked(id, mono_ms());
    memcpy(key_id, id->key_id, JC_MAX_KEY_ID_LEN + 1);
    memcpy(key, id->key, JC_KEY_LEN);
    pthread_mutex_unlock(&id->mu);
}

jc_err_t jc_identity_verify(jc_identity *id, const jc_envelope *env, char *errstr,
                            size_t errstr_size)
{
    jc_err_t err = JC_ERR_BAD_SIGNATURE;
    uint64_t now = mono_ms();

    if (!jc_slice_eq(env->principal, id->principal)) {
        snprintf(errstr, errstr_size, "addressed to another principal");
        return JC_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&id->mu);
    poll_locked(id, now);
    if (jc_slice_eq(env->key_id, id->key_id) && jc_envelope_verify(env, id->key) == JC_OK) {
        err = JC_OK;
        if (id->has_prev && !id->prev_until_ms)
            id->prev_until_ms = now + SETTLE_MS; /* the coordinator has switched */
    } else if (id->has_prev && jc_slice_eq(env->key_id, id->prev_key_id) &&
               jc_envelope_verify(env, id->prev_key) == JC_OK) {
        err = JC_OK;
    }
    if (err)
        snprintf(errstr, errstr_size,
                 "signed with key '%.*s', which does not verify with a key this process holds"
                 " (current '%s'%s%s%s): was the key rotated? update key.file",
                 (int)env->key_id.n, (const char *)env->key_id.p, id->key_id,
                 id->has_prev ? ", previous '" : "", id->has_prev ? id->prev_key_id : "",
                 id->has_prev ? "'" : "");
    pthread_mutex_unlock(&id->mu);
    return err;
}

uint64_t jc_identity_reloads(const jc_identity *id)
{
    return atomic_load(&((jc_identity *)id)->reloads);
}
