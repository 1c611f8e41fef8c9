/*
 * http_conns.h - every open HTTP connection and the deadline of the request
 * it is receiving, so that slow clients cannot hold the connection slots.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client sending
 * one header line every few seconds is never idle and never finishes, and
 * a few hundred of them fill http.max_connections. Here each request must
 * arrive whole (headers and body) within http.request_deadline_s of its
 * start (the connection's opening, or the end of the previous request on
 * the connection); once 3/4 of http.max_connections are open the deadline
 * shrinks to http.busy_request_deadline_ms, which frees the slots held by
 * slow senders within a second while a normal client (whose request
 * arrives in milliseconds) is never cut. A sweeper thread enforces it by
 * shutting the late connection's socket down; libmicrohttpd then sees the
 * end of the stream and closes the connection as usual.
 */
#ifndef JC_HTTP_CONNS_H
#define JC_HTTP_CONNS_H

#include <microhttpd.h>

typedef struct jc_conns jc_conns;

/* jc_conns_start starts the sweeper. NULL when it cannot. */
jc_conns *jc_conns_start(int max_connections, int deadline_ms, int busy_deadline_ms);

/* jc_conns_notify is the MHD_OPTION_NOTIFY_CONNECTION callback (cls: the
 * jc_conns): it tracks connections from their opening to their closing. */
void jc_conns_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe);

/* jc_conns_received: the request on c has arrived whole (or was answered):
 * its deadline no longer applies. jc_conns_done: the request ended; the
 * next one on the connection starts its deadline now. */
void jc_conns_received(struct MHD_Connection *c);
void jc_conns_done(struct MHD_Connection *c);

/* jc_conns_counts reads the connections open now, the requests cut for
 * arriving too slowly since the start, and whether the busy deadline is in
 * force (the /metrics gauges and counter). */
void jc_conns_counts(jc_conns *t, long *open, long *cut_total, int *busy);

/* jc_conns_stop stops the sweeper (call before MHD_stop_daemon);
 * jc_conns_free frees what is left (after it). */
void jc_conns_stop(jc_conns *t);
void jc_conns_free(jc_conns *t);

#endif
