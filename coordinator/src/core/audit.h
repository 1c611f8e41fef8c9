/*
 * audit.h - the audit trail (table audit_log, migration 022): who did what
 * to identities and to the fleet, appended by the admin CLI and the daemon
 * alike. This is the whole API a new command needs:
 *
 *   1. name its action in audit.c's table (jc_audit_action_known refuses an
 *      action missing from it, so `audit list --action` and GET /v1/audit
 *      can validate their filter, and the docs list every action);
 *   2. call jc_audit_record once the outcome is known: inside the change's
 *      transaction when there is one (the entry then commits or rolls back
 *      with it), else on its own (autocommit).
 *
 * jobcoord-admin commands get this for free: admin_audit.c records every
 * command listed in its table after the command ran (its outcome from the
 * exit code), so a new admin command that writes needs one row there and
 * one action here, nothing else.
 *
 * Never put a secret in detail (passwords, keys, TOTP codes, tokens): the
 * trail is readable by every admin. Texts are cut to the column limits at a
 * UTF-8 boundary.
 */
#ifndef JC_AUDIT_H
#define JC_AUDIT_H

#include <stddef.h>

#include <libpq-fe.h>

#define JC_AUDIT_ACTOR_MAX 256
#define JC_AUDIT_TARGET_MAX 256
#define JC_AUDIT_DETAIL_MAX 1024

typedef enum jc_audit_outcome {
    JC_AUDIT_OK,      /* done */
    JC_AUDIT_REFUSED, /* refused: not found, wrong password, invalid value, ... */
    JC_AUDIT_ERROR,   /* failed: database or system error */
} jc_audit_outcome;

typedef struct jc_audit_entry {
    const char *actor_kind; /* "cli" or "principal" */
    const char *actor;      /* user@host (cli), principal id or login name (principal) */
    const char *action;     /* a name of the table in audit.c: "user.add", "auth.login" */
    const char *target;     /* what it was done to (principal, worker, job id); NULL: none */
    jc_audit_outcome outcome;
    const char *address; /* the HTTP client's address; NULL for the CLI */
    const char *detail;  /* free text without secrets; NULL: none */
} jc_audit_entry;

/* jc_audit_record appends e to audit_log on db. Returns 0, or -1 with err
 * (an unknown action, or what PostgreSQL said). */
int jc_audit_record(PGconn *db, const jc_audit_entry *e, char *err, size_t err_size);

/* jc_audit_action_known tells whether action is in the table. */
int jc_audit_action_known(const char *action);

/* jc_audit_actions returns the table (n: its length). */
const char *const *jc_audit_actions(size_t *n);

/* jc_audit_outcome_name: "ok", "refused" or "error". */
const char *jc_audit_outcome_name(jc_audit_outcome o);

/* jc_audit_cli_actor writes the operating-system user running this process
 * and the host, as user@host, into out. */
void jc_audit_cli_actor(char *out, size_t out_size);

/* jc_audit_prune deletes the entries older than retention_s seconds (0:
 * none) in one transaction of its own, through the trigger's one exception
 * (SET LOCAL jobcoord.audit_prune = 'on'). *deleted gets how many. Returns
 * 0, or -1 with err. Used by the janitor. */
int jc_audit_prune(PGconn *db, int retention_s, long *deleted, char *err, size_t err_size);

#endif
