/*
 * http_conns.c - request deadlines of HTTP connections (see http_conns.h).
 *
 * A doubly linked list of the open connections under one mutex; libmicrohttpd
 * gives each connection a pointer we own (its socket context) from its
 * opening to its closing notification, which comes before the socket is
 * closed: the sweeper only shuts down sockets of listed connections, under
 * the same mutex, so it never touches a descriptor that was closed or
 * reused. The sweeper wakes every 100 ms; a few hundred connections cost
 * it microseconds.
 */
#include "http/http_conns.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"

typedef struct conn {
    struct jc_conns *owner;
    struct conn *prev, *next;
    int fd;
    int received; /* the current request arrived whole: no deadline */
    int cut;
    struct timespec start;
} conn;

struct jc_conns {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn *head;
    int open;
    int max_connections, deadline_ms, busy_deadline_ms;
    int stopping;
    long cut_total, cut_logged;
    time_t logged_at;
    pthread_t sweeper;
};

static long age_ms(const struct timespec *t0, const struct timespec *now)
{
    return (long)(now->tv_sec - t0->tv_sec) * 1000 + (now->tv_nsec - t0->tv_nsec) / 1000000;
}

static void *sweep(void *arg)
{
    jc_conns *t = arg;

    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        struct timespec now, until;
        int busy = t->open * 4 >= t->max_connections * 3;
        long limit = busy ? t->busy_deadline_ms : t->deadline_ms;

        clock_gettime(CLOCK_MONOTONIC, &now);
        for (conn *c = t->head; c; c = c->next) {
            if (c->received || c->cut || age_ms(&c->start, &now) <= limit)
                continue;
            shutdown(c->fd, SHUT_RDWR);
            c->cut = 1;
            t->cut_total++;
        }
        if (t->cut_total != t->cut_logged && time(NULL) - t->logged_at >= 10) {
            LOG_WARN("http", "%ld connection(s) cut for sending a request too slowly (%ld in all;"
                     " %d open of %d%s)", t->cut_total - t->cut_logged, t->cut_total, t->open,
                     t->max_connections, busy ? ", busy deadline in force" : "");
            t->cut_logged = t->cut_total;
            t->logged_at = time(NULL);
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &until);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

jc_conns *jc_conns_start(int max_connections, int deadline_ms, int busy_deadline_ms)
{
    jc_conns *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->max_connections = max_connections;
    t->deadline_ms = deadline_ms;
    t->busy_deadline_ms = busy_deadline_ms < deadline_ms ? busy_deadline_ms : deadline_ms;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->sweeper, NULL, sweep, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void jc_conns_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    jc_conns *t = cls;
    conn *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(c = calloc(1, sizeof *c)))
            return; /* untracked: only the idle timeout applies */
        c->owner = t;
        c->fd = ci->connect_fd;
        clock_gettime(CLOCK_MONOTONIC, &c->start);
        pthread_mutex_lock(&t->mu);
        c->next = t->head;
        if (t->head)
            t->head->prev = c;
        t->head = c;
        t->open++;
        pthread_mutex_unlock(&t->mu);
        *socket_context = c;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && c) {
        pthread_mutex_lock(&t->mu);
        if (c->prev)
            c->prev->next = c->next;
        else
            t->head = c->next;
        if (c->next)
            c->next->prev = c->prev;
        t->open--;
        pthread_mutex_unlock(&t->mu);
        free(c);
        *socket_context = NULL;
    }
}

static conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void jc_conns_received(struct MHD_Connection *mc)
{
    conn *c = conn_of(mc);
    if (!c)
        return;
    pthread_mutex_lock(&c->owner->mu);
    c->received = 1;
    pthread_mutex_unlock(&c->owner->mu);
}

void jc_conns_done(struct MHD_Connection *mc)
{
    conn *c = conn_of(mc);
    if (!c)
        return;
    pthread_mutex_lock(&c->owner->mu);
    c->received = 0;
    clock_gettime(CLOCK_MONOTONIC, &c->start);
    pthread_mutex_unlock(&c->owner->mu);
}

void jc_conns_counts(jc_conns *t, long *open, long *cut_total, int *busy)
{
    pthread_mutex_lock(&t->mu);
    *open = t->open;
    *cut_total = t->cut_total;
    *busy = t->open * 4 >= t->max_connections * 3;
    pthread_mutex_unlock(&t->mu);
}

void jc_conns_stop(jc_conns *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->sweeper, NULL);
}

void jc_conns_free(jc_conns *t)
{
    if (!t)
        return;
    while (t->head) {
        conn *c = t->head;
        t->head = c->next;
        free(c);
    }
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
