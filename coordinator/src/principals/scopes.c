/* scopes.c - the scope table (see scopes.h). */
#include "principals/scopes.h"

#include <stdio.h>
#include <string.h>

#define T(x) (1u << JC_MSG_##x)

static const char *const read_jobs[] = {"/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/events", NULL};
static const char *const read_workers[] = {"/v1/workers", "/v1/workers/{id}", NULL};
/* /v1/audit also needs the admin role (http_audit.c) */
static const char *const read_status[] = {"/v1/status",   "/v1/jobs/stats",    "/v1/audit",
                                          "/v1/commands", "/v1/commands/{id}", NULL};
static const char *const none[] = {NULL};

static const jc_scope_def table[JC_SCOPE__COUNT] = {
    [JC_SCOPE_JOBS_SUBMIT] = {"jobs:submit", T(JOB_SUBMIT), none, " client admin ",
                              "submit jobs (job.submit)"},
    [JC_SCOPE_JOBS_CANCEL] = {"jobs:cancel", T(JOB_CANCEL), none, " client admin ",
                              "cancel jobs it submitted (job.cancel)"},
    [JC_SCOPE_JOBS_RUN] = {"jobs:run",
                           T(HEARTBEAT) | T(JOB_EVENT) | T(COMMAND_ACK) | T(WORKER_EVENT), none,
                           " worker ", "work: heartbeat, job.event, command.ack, worker.event"},
    [JC_SCOPE_JOBS_READ] =
        {"jobs:read", 0, read_jobs, " client worker admin reader ",
         "read jobs over HTTP (a client its own, a worker those assigned to it)"},
    [JC_SCOPE_WORKERS_READ] = {"workers:read", 0, read_workers, " worker admin reader ",
                               "read workers over HTTP (a worker itself)"},
    [JC_SCOPE_STATUS_READ] =
        {"status:read", 0, read_status, " admin reader ",
         "read the fleet's status, job statistics and worker commands over HTTP"},
};

const jc_scope_def *jc_scope_get(int i)
{
    return i >= 0 && i < JC_SCOPE__COUNT ? &table[i] : NULL;
}

int jc_scope_find(const char *name, size_t n)
{
    for (int i = 0; i < JC_SCOPE__COUNT; i++)
        if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0)
            return i;
    return -1;
}

int jc_scope_of_type(jc_msg_type t)
{
    for (int i = 0; i < JC_SCOPE__COUNT; i++)
        if (table[i].kafka_types & (1u << t))
            return i;
    return -1;
}

int jc_scope_of_route(const char *route)
{
    for (int i = 0; route && i < JC_SCOPE__COUNT; i++)
        for (const char *const *r = table[i].http_routes; *r; r++)
            if (strcmp(*r, route) == 0)
                return i;
    return -1;
}

unsigned jc_scopes_of_role(const char *role)
{
    char word[24];
    unsigned m = 0;

    if (!role || strlen(role) > 16)
        return 0;
    snprintf(word, sizeof word, " %s ", role);
    for (int i = 0; i < JC_SCOPE__COUNT; i++)
        if (strstr(table[i].roles, word))
            m |= 1u << i;
    return m;
}

unsigned jc_scopes_effective(const char *role, const char *list)
{
    unsigned role_mask = jc_scopes_of_role(role), m = 0;
    const char *p = list;

    if (!p || !*p)
        return role_mask;
    while (*p) {
        size_t n = strcspn(p, ", ");
        int i = jc_scope_find(p, n);
        if (i >= 0)
            m |= 1u << i;
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return m & role_mask;
}

void jc_scopes_names(unsigned mask, char sep, char *out, size_t out_size)
{
    size_t o = 0;

    if (out_size)
        out[0] = '\0';
    for (int i = 0; i < JC_SCOPE__COUNT; i++)
        if (mask & (1u << i) && o + strlen(table[i].name) + 2 < out_size)
            o += (size_t)snprintf(out + o, out_size - o, "%s%s", o ? (char[]){sep, 0} : "",
                                  table[i].name);
}

int jc_scopes_check(const char *role, const char *list, char *err, size_t err_size)
{
    unsigned role_mask = jc_scopes_of_role(role);
    const char *p = list ? list : "";

    while (*p) {
        size_t n = strcspn(p, ",");
        int i = jc_scope_find(p, n);
        if (i < 0 || !(role_mask & (1u << i))) {
            char names[256];
            jc_scopes_names(role_mask, ' ', names, sizeof names);
            snprintf(err, err_size, "%s scope '%.*s' (a %s may hold: %s)",
                     i < 0 ? "unknown" : "role does not allow", (int)(n > 64 ? 64 : n), p,
                     role ? role : "?", names);
            return 0;
        }
        p += n;
        if (*p == ',') {
            p++;
            if (!*p || *p == ',') {
                snprintf(err, err_size, "empty scope in '%s'", list);
                return 0;
            }
        }
    }
    return 1;
}
