/*
 * http.h - the coordinator's HTTP surface (libmicrohttpd): health,
 * readiness and Prometheus metrics. It reads; it never writes job state.
 * Its own thread pool and its own PostgreSQL connection.
 */
#ifndef JC_HTTP_H
#define JC_HTTP_H

#include <stddef.h>

#include "config.h"
#include "runtime.h"

typedef struct jc_http jc_http;

/* jc_http_start listens on cfg->http_listen ("host:port"); NULL with errstr
 * on failure. Not called when http.listen is empty. */
jc_http *jc_http_start(const jc_config *cfg, jc_runtime *rt, char *errstr, size_t errstr_size);

void jc_http_stop(jc_http *h);

#endif
