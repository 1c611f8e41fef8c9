/*
 * scopes.h - THE scope set: what each scope allows a principal to send over
 * Kafka and to read over HTTP, and which roles hold it (scopes.c is the one
 * table; PROTOCOL.md section 10 and docs/http-api.md describe it).
 *
 * A principal's scopes narrow its role: it may do what a scope it has
 * allows and its role permits. A principal with no scopes set has all its
 * role's scopes. Ingest checks a message's type against the signer's
 * scopes (forbidden_scope); every authenticated HTTP route needs the scope
 * listing it in the access token's scope claim (403 otherwise).
 */
#ifndef JC_SCOPES_H
#define JC_SCOPES_H

#include <stddef.h>

#include "jcproto/proto.h"

typedef enum jc_scope {
    JC_SCOPE_JOBS_SUBMIT = 0,
    JC_SCOPE_JOBS_CANCEL,
    JC_SCOPE_JOBS_RUN,
    JC_SCOPE_JOBS_READ,
    JC_SCOPE_WORKERS_READ,
    JC_SCOPE_STATUS_READ,
    JC_SCOPE__COUNT
} jc_scope;

typedef struct jc_scope_def {
    const char *name;               /* "jobs:submit" */
    unsigned kafka_types;           /* bit (1u << jc_msg_type) per message type it may send */
    const char *const *http_routes; /* route patterns it may call (GET), NULL-terminated */
    const char *roles;              /* roles that hold it: " client admin " */
    const char *what;               /* one line, for help texts */
} jc_scope_def;

const jc_scope_def *jc_scope_get(int i); /* 0..JC_SCOPE__COUNT-1, else NULL */

/* jc_scope_find returns the index of scope name (n bytes), -1 if unknown. */
int jc_scope_find(const char *name, size_t n);

/* jc_scope_of_type / jc_scope_of_route: the scope allowing a message type
 * / an HTTP route pattern, -1 if none does. */
int jc_scope_of_type(jc_msg_type t);
int jc_scope_of_route(const char *route);

/* jc_scopes_of_role: the mask (1u << jc_scope) of the scopes role holds. */
unsigned jc_scopes_of_role(const char *role);

/* jc_scopes_effective: the mask of a principal of role with scopes list
 * (separated by commas or spaces; NULL or empty: the role's defaults).
 * Unknown names and scopes outside the role grant nothing. */
unsigned jc_scopes_effective(const char *role, const char *list);

/* jc_scopes_names writes the names of mask, separated by sep, into out. */
void jc_scopes_names(unsigned mask, char sep, char *out, size_t out_size);

/* jc_scopes_check validates list (commas) for role: every name known and
 * held by role. Returns 1, or 0 with the reason in err. */
int jc_scopes_check(const char *role, const char *list, char *err, size_t err_size);

#endif
