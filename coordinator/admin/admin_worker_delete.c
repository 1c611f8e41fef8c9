/*
 * admin_worker_delete.c - `jobcoord-admin worker delete`: forgetting the
 * record of a worker that is gone (an old host, a renamed worker), so that
 * `worker list` and the status views stop showing it.
 *
 * Only the worker record goes: the principal (its keys, its settings) stays,
 * and a heartbeat from it later makes a new record, as for a worker seen for
 * the first time. A live worker (online or draining) is refused: the
 * scheduler may be assigning it jobs and its next heartbeat would bring the
 * record back anyway; so is an offline worker that still holds jobs (the
 * janitor takes them back when it marks a worker offline, so that is
 * a short window, but deleting then would leave them without a worker row).
 * The check and the delete are one transaction under the row's lock
 * (admin_lock_row): schedulers skip a locked worker. The write is one
 * statement, in delete_record.
 */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include "jobs/workerstate.h"

#include "jobs/workerstate.h"

/* delete_record deletes the worker row of id if it is still offline. */
static int delete_record(admin_ctx *ctx, const char *id)
{
    PGresult *r =
        admin_query(ctx, "DELETE FROM workers WHERE id = $1 AND status = " JC_SQL_WORKER_OFFLINE, 1,
                    &id);
    int rc = r ? ADMIN_OK : ADMIN_SYSERR;

    if (r && strcmp(PQcmdTuples(r), "1") != 0)
        rc = admin_fail(ADMIN_REFUSED, "worker '%s' changed meanwhile; try again", id);
    PQclear(r);
    return rc;
}

/* cmd_worker_delete deletes an offline worker's record. */
static int cmd_worker_delete(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0];
    PGresult *w = NULL, *held = NULL;
    long n_held;
    int rc;

    if (!jc_principal_name_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid worker id '%s'", id);
    rc = admin_lock_row(ctx,
                        "SELECT status, " ADMIN_TS("last_seen_at") " FROM workers"
                        " WHERE id = $1 FOR UPDATE",
                        id, "worker", &w);
    if (rc)
        goto out;
    if (jc_worker_status_parse(PQgetvalue(w, 0, 0)) != WS_OFFLINE) {
        rc = admin_fail(ADMIN_REFUSED,
                        "worker '%s' is %s: only an offline worker's record can be deleted"
                        " (stop the worker; it is marked offline once it has been silent for"
                        " janitor.worker_offline_after_s); nothing deleted",
                        id, PQgetvalue(w, 0, 0));
        goto out;
    }
    held = admin_query(ctx,
                       "SELECT count(*) FROM jobs WHERE worker_id = $1"
                       " AND state IN ('assigned', 'running', 'canceling')",
                       1, &id);
    if (!held) {
        rc = ADMIN_SYSERR;
        goto out;
    }
    n_held = atol(PQgetvalue(held, 0, 0));
    if (n_held > 0) {
        rc = admin_fail(ADMIN_REFUSED,
                        "worker '%s' still holds %ld live job%s (the janitor takes them back"
                        " soon); nothing deleted",
                        id, n_held, n_held == 1 ? "" : "s");
        goto out;
    }
    rc = delete_record(ctx, id);
    if (rc)
        goto out;
    rc = admin_end_tx(ctx, ADMIN_OK);
    if (rc)
        goto out;
    if (ctx->json) {
        fputc('{', stdout);
        admin_json_kv(stdout, 1, "id", id);
        admin_json_kv(stdout, 0, "last_seen_at", PQgetvalue(w, 0, 1));
        fputs(",\"deleted\":true}\n", stdout);
    } else {
        printf("deleted the record of worker %s (last seen %s); the principal is kept\n", id,
               PQgetvalue(w, 0, 1));
    }
out:
    rc = admin_end_tx(ctx, rc);
    PQclear(w);
    PQclear(held);
    return rc;
}

static const admin_cmd worker_delete_commands[] = {
    {"worker",
     "delete",
     "<id>",
     "Delete the record of an offline worker.",
     "Only the worker record goes (it no longer shows in worker list and the status\n"
     "views); the principal, its keys and settings stay (user delete removes them).\n"
     "Refused (exit 1, nothing deleted) for a worker that is online or draining, or\n"
     "that still holds jobs. Its heartbeat history and events stay until the janitor\n"
     "prunes them. If it heartbeats again it gets a new record, as a new worker does:\n"
     "not drained (drain it again if it should stay out of work).",
     1,
     {{NULL, NULL, NULL}},
     cmd_worker_delete},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_worker_delete_commands(void)
{
    return worker_delete_commands;
}
