/*
 * principals.h - principals (clients, workers, admins, readers) and their HMAC keys
 * in PostgreSQL: the data layer behind `jobcoord-admin user ...` and
 * `security re-encrypt`.
 *
 * A new key is 32 random bytes with a generated key id ("k" and 8 hex
 * digits). It is handed to the caller once, in a jc_new_key, and stored
 * sealed with the keyring's default key (associated data
 * jc_keyring_principal_ad(principal, key_id)), or in plain text when the
 * keyring has no default. Every function takes the connection of the
 * calling thread, runs its own transaction(s), and uses only parameterized
 * statements. A function returning JC_PR_ERROR has rolled back and filled
 * errstr; the refusals (NOT_FOUND, EXISTS, INVALID) fill errstr too.
 */
#ifndef JC_PRINCIPALS_H
#define JC_PRINCIPALS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "jcproto/proto.h"
#include "secrets/keyring.h"

#define JC_PRINCIPAL_KEY_LEN 32 /* HMAC-SHA256 key */
#define JC_PRINCIPAL_GRACE_MAX (10L * 366 * 86400)
#define JC_PRINCIPAL_TS_LEN 24  /* "2026-01-15T10:00:00Z" */

typedef enum jc_pr_status {
    JC_PR_OK = 0,
    JC_PR_NOT_FOUND, /* no such principal */
    JC_PR_EXISTS,    /* a principal with that id already exists */
    JC_PR_INVALID,   /* bad id, role, scope, grace or target key; a secret refused plain text */
    JC_PR_ERROR,     /* PostgreSQL, keyring or memory trouble */
    JC_PR_BUSY,      /* refused: the principal still has live work (see principal_delete.h) */
} jc_pr_status;

/* jc_principal_prune_keys deletes the rotated-out keys whose grace period
 * ended more than retention_s seconds ago; a principal's current key is
 * never deleted. Each deleted key is logged; *pruned gets the count. One
 * statement (autocommit). */
jc_pr_status jc_principal_prune_keys(PGconn *c, int retention_s, long *pruned, char *errstr,
                                     size_t errstr_size);


/* jc_principal_role_valid tells whether role is client, worker, admin or
 * reader (a reader may read the HTTP status API and send nothing). */
int jc_principal_role_valid(const char *role);

/* jc_principal_scopes_valid tells whether scopes (a comma-separated list,
 * "" for none) may be given to a principal of role; if not, errstr says
 * why. */
int jc_principal_scopes_valid(const char *role, const char *scopes, char *errstr,
                              size_t errstr_size);

/* JC_PRINCIPAL_ROLES is the list for messages. */
#define JC_PRINCIPAL_ROLES "client, worker, admin or reader"

typedef struct jc_new_key {
    char key_id[JC_MAX_PRINCIPAL_LEN + 1];
    uint8_t key[JC_PRINCIPAL_KEY_LEN];
    char enc_key_id[JC_MAX_PRINCIPAL_LEN + 1]; /* "" : stored in plain text */
    /* rotation only: the key that stopped being current, "" if none */
    char previous_key_id[JC_MAX_PRINCIPAL_LEN + 1];
    char previous_valid_until[JC_PRINCIPAL_TS_LEN];
} jc_new_key;

/* jc_principal_create inserts principal id with role, scopes (comma-separated
 * list, NULL or "" for none) and a new current key, in one transaction. */
jc_pr_status jc_principal_create(PGconn *c, const jc_keyring *kr, const char *id,
                                 const char *role, const char *scopes, jc_new_key *out,
                                 char *errstr, size_t errstr_size);

/* jc_principal_insert is jc_principal_create inside the caller's open
 * transaction (it neither begins, commits nor rolls back): for callers that
 * create a principal together with other changes. */
jc_pr_status jc_principal_insert(PGconn *c, const jc_keyring *kr, const char *id,
                                 const char *role, const char *scopes, jc_new_key *out,
                                 char *errstr, size_t errstr_size);

/* jc_principal_rotate_key makes a new current key for id; the previous
 * current key stays valid for grace_s more seconds (0: expires now). One
 * transaction. */
jc_pr_status jc_principal_rotate_key(PGconn *c, const jc_keyring *kr, const char *id,
                                     long grace_s, jc_new_key *out, char *errstr,
                                     size_t errstr_size);

/* Deleting a principal settles its live jobs first: principal_delete.h. */

typedef struct jc_principal_key {
    char key_id[JC_MAX_PRINCIPAL_LEN + 1];
    char enc_key_id[JC_MAX_PRINCIPAL_LEN + 1]; /* "" : plain text */
    char created_at[JC_PRINCIPAL_TS_LEN];
    char valid_until[JC_PRINCIPAL_TS_LEN]; /* "" : the current key */
    int current;
    int expired;    /* valid_until has passed */
    int has_secret; /* secret filled (listing asked for secrets) */
    uint8_t secret[JC_PRINCIPAL_KEY_LEN];
    long long age_s;                        /* seconds since created_at */
    long long created_epoch;                /* created_at, Unix seconds */
    char last_used_at[JC_PRINCIPAL_TS_LEN]; /* "" : not used since it is recorded */
} jc_principal_key;

typedef struct jc_principal {
    char id[JC_MAX_PRINCIPAL_LEN + 1];
    char role[8];
    char *scopes; /* comma-separated, never NULL */
    int disabled;
    char created_at[JC_PRINCIPAL_TS_LEN];
    /* password login (passwords.h); no secrets */
    int has_password;
    long failed_logins;
    char locked_until[JC_PRINCIPAL_TS_LEN]; /* "" : never locked */
    int locked;                             /* locked_until is in the future */
    int totp_enabled;
    int totp_pending;       /* a secret waits for its first code (user totp confirm) */
    char totp_algorithm[8]; /* "sha256" or "sha1" with a secret (pending or not), else "" */
    char description[257];  /* an operator's note (user update), "" : none */
    jc_principal_key *keys; /* current key first, then newest first */
    size_t n_keys;
} jc_principal;

/* jc_principal_list reads every principal (id NULL) or just id, ordered by
 * id, with all their keys; with_secrets opens each key with kr (an error if
 * one cannot be opened). *out is freed with jc_principal_list_free, which
 * wipes the secrets. Asking for one id that does not exist gives
 * JC_PR_NOT_FOUND. */
jc_pr_status jc_principal_list(PGconn *c, const jc_keyring *kr, const char *id,
                               int with_secrets, jc_principal **out, size_t *n, char *errstr,
                               size_t errstr_size);

void jc_principal_list_free(jc_principal *list, size_t n);

typedef struct jc_reencrypt_opts {
    const char *principal_id;  /* NULL: every principal */
    const char *from_key_id;   /* NULL: rows sealed with any key (or plain) */
    const char *target_key_id; /* NULL: store in plain text */
    long limit;                /* most rows to move; 0: no limit */
    int batch_size;            /* rows per transaction, > 0 */
    int count_only;            /* move nothing, only count the rows remaining
                                * (a shared limit already used up) */
} jc_reencrypt_opts;

typedef struct jc_reencrypt_counts {
    long moved;     /* rows rewritten to the target */
    long batches;   /* transactions committed */
    long remaining; /* rows of the filter still not on the target afterwards
                     * (past the limit, or locked by another process) */
} jc_reencrypt_counts;

/* jc_principal_reencrypt rewrites the keys matching o that are not yet
 * stored the way o->target_key_id asks, batch by batch, each batch one
 * transaction that locks its rows with FOR UPDATE SKIP LOCKED. A row sealed
 * with a key missing from kr stops the run with JC_PR_ERROR; batches already
 * committed stay, and counts tells how far it got. */
jc_pr_status jc_principal_reencrypt(PGconn *c, const jc_keyring *kr, const jc_reencrypt_opts *o,
                                    jc_reencrypt_counts *counts, char *errstr,
                                    size_t errstr_size);

#endif
