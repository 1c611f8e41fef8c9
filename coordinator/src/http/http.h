/*
 * http.h - the coordinator's HTTP surface (libmicrohttpd): token issuance,
 * JWKS, the status API, health, readiness and Prometheus metrics. It never
 * changes job state. Its own thread pool, one PostgreSQL connection per
 * pool thread (http_int.h is what the route handlers share).
 */
#ifndef JC_HTTP_H
#define JC_HTTP_H

#include <stddef.h>

#include "core/config.h"
#include "secrets/keyring.h"
#include "core/runtime.h"

typedef struct jc_http jc_http;

/* jc_http_start listens on cfg->http_listen ("host:port"); NULL with errstr
 * on failure. Not called when http.listen is empty. */
jc_http *jc_http_start(const jc_config *cfg, jc_runtime *rt, const jc_keyring *kr, char *errstr,
                       size_t errstr_size);

/* jc_http_signing_ready tells whether an active signing key is loaded. */
int jc_http_signing_ready(const jc_http *h);

void jc_http_stop(jc_http *h);

#endif
