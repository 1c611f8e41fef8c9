/*
 * reply_key.h - which key the coordinator signs with for a principal.
 *
 * Commands and job updates are signed with the recipient's key, so that it
 * can tell them from forgeries. During a key rotation with a grace period
 * the recipient may still hold only its old key: signing with its newest
 * key would make everything it receives unverifiable (a worker would ignore
 * its assigns, a client would never see its job finish). So the coordinator
 * signs with the key the principal last proved it holds: ingest records, per
 * principal, the key id of its accepted messages (principals.reply_key_id),
 * and the outbox signs with that key while it is valid, else with the
 * current one (PROTOCOL.md section 5.3).
 *
 * Messages of one principal travel on several topics and may be applied out
 * of order (or by several coordinator instances), so the recorded key only
 * moves to a NEWER key (created later): a late message signed with the old
 * key during the grace period does not switch back. The write is one
 * statement per batch, and only for (principal, key) pairs not recorded in
 * the last minute by this instance (the key cache remembers), so a steady
 * stream of messages under one key costs nothing.
 *
 * The same goes for the protocol version (PROTOCOL.md section 14): ingest
 * records, per principal, the envelope "v" of its latest accepted message
 * (principals.proto_version, latest by the signed ts), and the outbox writes
 * what it sends to the principal in that version. The write happens only
 * when a batch holds a message whose version differs from what the key
 * cache last saw recorded, so a principal that keeps one version costs no
 * query; its switch is recorded in the transaction that accepts the first
 * message in the new version, before any answer to it is sent.
 */
#ifndef JC_REPLYKEY_H
#define JC_REPLYKEY_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ingest/batch.h"
#include "principals/hmac_keycache.h"

/* jc_replykey_record records the keys the accepted messages of
 * b->msgs[from, to) were signed with, inside the ingest transaction. A
 * worker that proves a newer key is also released if it was held back
 * (holdback.h). Returns 0, or -1 with errstr. */
int jc_replykey_record(PGconn *db, const jc_batch *b, size_t from, size_t to, int64_t now_ms,
                       char *errstr, size_t errstr_size);

/* jc_replykey_committed notes, after the transaction committed, that the
 * keys of b->msgs[from, to) are recorded (so the next batches skip them). */
void jc_replykey_committed(jc_keycache *kc, const jc_batch *b, size_t from, size_t to,
                           int64_t now_ms);

/* jc_replykey_record_version records, inside the ingest transaction, the
 * protocol version of the principals whose accepted messages in
 * b->msgs[from, to) switched versions. Returns 0, or -1 with errstr. */
int jc_replykey_record_version(PGconn *db, const jc_batch *b, size_t from, size_t to,
                               char *errstr, size_t errstr_size);

/* jc_replykey_version_committed notes in the key cache, after the
 * transaction committed, the versions it recorded. */
void jc_replykey_version_committed(jc_keycache *kc, const jc_batch *b, size_t from, size_t to);

#endif
