/*
 * identity.h - the principal an SDK handle acts as, and its HMAC keys.
 *
 * Keys rotate (`jobcoord-admin user rotate-key ID --grace N`), and a
 * running worker or client must take the new key without a restart. So the
 * identity holds the key it signs with and, after a rotation, the previous
 * key too: the coordinator keeps signing what it sends with the key this
 * principal last proved it holds (PROTOCOL.md section 5.3), so messages
 * signed with the previous key may still arrive after the switch. The
 * previous key is forgotten SETTLE_MS after the first message that verified
 * with the new one (a rotation is often made because a key leaked).
 *
 * The key comes from `key` (inline, never reloaded) or `key.file`, whose
 * first line is `[KEY_ID ]BASE64` (without KEY_ID, `key.id` names it). The
 * file is looked at again at most every `key.reload.ms` (default 1000; 0:
 * only on jc_identity_reload) from the threads that sign and verify, and
 * re-read when its inode, size or modification time changed.
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef JC_SDK_IDENTITY_H
#define JC_SDK_IDENTITY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobcoord/jobcoord.h"
#include "jcproto/proto.h"

typedef struct jc_identity {
    char principal[JC_MAX_PRINCIPAL_LEN + 1]; /* never changes: read without the lock */
    pthread_mutex_t mu;
    int mu_ready;
    /* under mu */
    char key_id[JC_MAX_KEY_ID_LEN + 1]; /* signs, and verifies */
    uint8_t key[JC_KEY_LEN];
    int has_prev; /* the key before the last rotation: verifies only */
    char prev_key_id[JC_MAX_KEY_ID_LEN + 1];
    uint8_t prev_key[JC_KEY_LEN];
    uint64_t prev_until_ms; /* 0: until a message verifies with key; else forget it then */
    char *key_file;         /* NULL: the key was given inline */
    char conf_key_id[JC_MAX_KEY_ID_LEN + 1]; /* key.id: when the file names no key id */
    int reload_ms;
    uint64_t checked_ms; /* monotonic: the file's last look */
    int have_stat;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    atomic_uint_fast64_t reloads; /* rotations taken */
} jc_identity;

/* jc_sdk_identity reads principal, key.id, key or key.file and
 * key.reload.ms from conf into id (which it initialises). Release with
 * jc_identity_destroy, also after a failure. */
jc_err_t jc_sdk_identity(const jc_conf_t *conf, jc_identity *id, char *errstr,
                         size_t errstr_size);

/* jc_identity_destroy wipes the keys and releases id. */
void jc_identity_destroy(jc_identity *id);

/* jc_identity_signer copies the key id and key to sign with, after looking
 * at key.file if it is due. */
void jc_identity_signer(jc_identity *id, char key_id[JC_MAX_KEY_ID_LEN + 1],
                        uint8_t key[JC_KEY_LEN]);

/* jc_identity_verify checks that env is addressed to this principal and
 * that its MAC verifies with the held key its "k" names (the current or the
 * previous one). JC_ERR_INVALID_ARG: another principal; JC_ERR_BAD_SIGNATURE
 * with errstr otherwise. */
jc_err_t jc_identity_verify(jc_identity *id, const jc_envelope *env, char *errstr,
                            size_t errstr_size);

/* jc_identity_reload re-reads key.file now. A new key becomes the signing
 * key and the old one is kept to verify with; the same key changes nothing.
 * JC_ERR_STATE when the key was given inline; JC_ERR_IO or
 * JC_ERR_INVALID_CONF with errstr when the file cannot be used (the keys
 * held are kept). */
jc_err_t jc_identity_reload(jc_identity *id, char *errstr, size_t errstr_size);

/* jc_identity_poll reloads key.file if key.reload.ms has passed since the
 * last look and the file changed. Errors are left for the next look. */
void jc_identity_poll(jc_identity *id);

/* jc_identity_reloads counts the rotations taken since the handle started. */
uint64_t jc_identity_reloads(const jc_identity *id);

#endif
