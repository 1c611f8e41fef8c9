/*
 * reasons.h - the rejection reasons of PROTOCOL.md section 9 ("Error
 * handling and dead letters"), the one list of them in code.
 *
 * A receiver names each message it refuses with one of these: the
 * coordinator in its dead letters, its metric labels and its job.refusal
 * answers; the codec for what it can judge alone (jc_err_reason). They are
 * part of the wire protocol: stable, and only ever added to.
 */
#ifndef JCPROTO_REASONS_H
#define JCPROTO_REASONS_H

#define JC_R_TOO_LARGE "too_large"
#define JC_R_MALFORMED "malformed"
#define JC_R_LIMIT "limit"
#define JC_R_BAD_VERSION "bad_version"
#define JC_R_UNKNOWN_PRINCIPAL "unknown_principal"
#define JC_R_UNKNOWN_KEY "unknown_key"
#define JC_R_KEY_EXPIRED "key_expired"
#define JC_R_DISABLED "disabled_principal"
#define JC_R_BAD_SIGNATURE "bad_signature"
#define JC_R_SCHEMA "schema"
#define JC_R_PRINCIPAL_MISMATCH "principal_mismatch"
#define JC_R_WRONG_TOPIC "wrong_topic"
#define JC_R_WRONG_ROLE "wrong_role"
#define JC_R_FORBIDDEN_SCOPE "forbidden_scope"
#define JC_R_STALE "stale"
#define JC_R_FUTURE "future"
#define JC_R_REPLAY "replay"
#define JC_R_APPLY_ERROR "apply_error"
#define JC_R_UNKNOWN_JOB "unknown_job"
#define JC_R_STALE_ATTEMPT "stale_attempt"
#define JC_R_INVALID_TRANSITION "invalid_transition"
#define JC_R_NOT_OWNER "not_owner"
#define JC_R_JOB_EXISTS "job_exists"

#endif
