/*
 * outbox_keys.c - the keys the outbox relay signs with: each recipient's
 * HMAC key (the one it last proved it holds while valid, else its current
 * one), cached for KEY_TTL_MS, and for an answer to a client's request the
 * key that request was signed with (see outbox.c for the relay itself).
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/db.h"
#include "kafka/kconf.h"
#include "core/log.h"
#include "jcproto/proto.h"
#include "jcproto/topics.h"
#include "jobs/outbox_int.h"

recipient_key *jc_outbox_key_find(jc_outbox *o, const char *principal)
{
    for (size_t i = 0; i < o->n_keys; i++)
        if (strcmp(o->keys[i].principal, principal) == 0)
            return &o->keys[i];
    return NULL;
}

// open_secret fills k->key from a secret column (bytea text) and its
// keys-file key id (NULL: stored in plain text); k->usable says if it could.
static void open_secret(jc_outbox *o, recipient_key *k, PGresult *r, int row, int col)
{
    size_t len = 0;
    unsigned char *secret = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &len);
    if (!secret)
        return;
    if (PQgetisnull(r, row, col + 1)) {
        if (len == JC_KEY_LEN) {
            memcpy(k->key, secret, JC_KEY_LEN);
            k->usable = 1;
        }
    } else {
        uint8_t ad[256], plain[JC_KEY_LEN + 64];
        size_t ad_len = jc_keyring_principal_ad(k->principal, k->key_id, ad, sizeof ad);
        size_t plain_len = 0;
        if (len <= sizeof plain + JC_KEYRING_OVERHEAD && ad_len &&
            jc_keyring_open(o->kr, PQgetvalue(r, row, col + 1), ad, ad_len, secret, len, plain,
                            &plain_len) == 0 &&
            plain_len == JC_KEY_LEN) {
            memcpy(k->key, plain, JC_KEY_LEN);
            k->usable = 1;
        }
        sodium_memzero(plain, sizeof plain);
    }
    sodium_memzero(secret, len);
    PQfreemem(secret);
}

// answer_keys_fetch loads, for the round's rows that answer a request, the
// key that request was signed with, valid or not (answers.c): one array
// entry per row (NULL-free; usable == 0 for rows that are no answers or
// whose key is gone). Caller frees *out.
int jc_outbox_answer_keys_fetch(jc_outbox *o, PGresult *rows, recipient_key **out)
{
    static const char sql[] =
        "SELECT principal_id, key_id, secret, enc_key_id FROM principal_keys"
        " WHERE (principal_id, key_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))";
    int n = PQntuples(rows), want = 0, rc = -1;
    jc_buf ps, ks;
    const char *params[2];
    PGresult *r = NULL;

    *out = calloc((size_t)n + 1, sizeof **out);
    if (!*out) {
        snprintf(o->err, sizeof o->err, "out of memory");
        return -1;
    }
    jc_buf_init(&ps, 16u << 20);
    jc_buf_init(&ks, 16u << 20);
    jc_buf_addstr(&ps, "{");
    jc_buf_addstr(&ks, "{");
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(rows, i, C_ANSWER_KEY))
            continue;
        snprintf((*out)[i].principal, sizeof (*out)[i].principal, "%s",
                 PQgetvalue(rows, i, C_RECIPIENT));
        snprintf((*out)[i].key_id, sizeof (*out)[i].key_id, "%s",
                 PQgetvalue(rows, i, C_ANSWER_KEY));
        jc_buf_add_array_elem(&ps, (*out)[i].principal, strlen((*out)[i].principal));
        jc_buf_add_array_elem(&ks, (*out)[i].key_id, strlen((*out)[i].key_id));
        want++;
    }
    jc_buf_addstr(&ps, "}");
    jc_buf_addstr(&ks, "}");
    if (want == 0) {
        rc = 0;
        goto out;
    }
    params[0] = jc_buf_str(&ps);
    params[1] = jc_buf_str(&ks);
    r = PQexecParams(o->db, sql, 2, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(o->db, r, o->err, sizeof o->err))
        goto out;
    for (int row = 0; row < PQntuples(r); row++)
        for (int i = 0; i < n; i++)
            if (!(*out)[i].usable && (*out)[i].key_id[0] &&
                strcmp((*out)[i].principal, PQgetvalue(r, row, 0)) == 0 &&
                strcmp((*out)[i].key_id, PQgetvalue(r, row, 1)) == 0)
                open_secret(o, &(*out)[i], r, row, 2);
    rc = 0;
out:
    PQclear(r);
    jc_buf_free(&ps);
    jc_buf_free(&ks);
    return rc;
}

// keys_fetch loads the signing key of every recipient of r not cached: the
// key the recipient last proved it holds (principals.reply_key_id, recorded
// by ingest: reply_key.c) while it is valid, else its current key. A key
// rotated with a grace period thus keeps reaching a worker or client that
// still holds only the old key, and the switch follows the recipient's own
// first message under the new key: the cache entry is fetched again as soon
// as a row names a reply key other than the one it was fetched under (an
// update answering the first message signed with a new key must already be
// signed with it), and after KEY_TTL_MS in any case.
int jc_outbox_keys_fetch(jc_outbox *o, PGresult *rows, int64_t now)
{
    static const char sql[] =
        "SELECT DISTINCT ON (k.principal_id) k.principal_id, k.key_id, k.secret, k.enc_key_id"
        "  FROM principal_keys k JOIN principals pr ON pr.id = k.principal_id"
        " WHERE k.principal_id = ANY($1::text[])"
        "   AND (k.valid_until IS NULL"
        "        OR (k.key_id = pr.reply_key_id AND k.valid_until > now()))"
        " ORDER BY k.principal_id, coalesce(k.key_id = pr.reply_key_id, false) DESC";
    jc_buf want;
    PGresult *r;
    const char *params[1];
    int n = 0, rc = -1;

    if (o->n_keys + (size_t)PQntuples(rows) > KEYS_MAX)
        o->n_keys = 0;
    jc_buf_init(&want, 16u << 20);
    jc_buf_addstr(&want, "{");
    for (int i = 0; i < PQntuples(rows); i++) {
        const char *p = PQgetvalue(rows, i, C_RECIPIENT);
        const char *reply = PQgetvalue(rows, i, C_REPLY_KEY);
        recipient_key *k = jc_outbox_key_find(o, p);
        if (k && now - k->fetched_at < KEY_TTL_MS && strcmp(k->reply_key_id, reply) == 0)
            continue;
        if (!k) {
            k = &o->keys[o->n_keys++];
            memset(k, 0, sizeof *k);
            snprintf(k->principal, sizeof k->principal, "%s", p);
        }
        k->usable = 0;
        k->fetched_at = now;
        snprintf(k->reply_key_id, sizeof k->reply_key_id, "%s", reply);
        jc_buf_add_array_elem(&want, p, strlen(p));
        n++;
    }
    jc_buf_addstr(&want, "}");
    if (n == 0) {
        jc_buf_free(&want);
        return 0;
    }
    params[0] = jc_buf_str(&want);
    r = PQexecParams(o->db, sql, 1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(o->db, r, o->err, sizeof o->err))
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        recipient_key *k = jc_outbox_key_find(o, PQgetvalue(r, i, 0));
        if (!k)
            continue;
        snprintf(k->key_id, sizeof k->key_id, "%s", PQgetvalue(r, i, 1));
        open_secret(o, k, r, i, 2);
    }
    rc = 0;
out:
    PQclear(r);
    jc_buf_free(&want);
    return rc;
}
