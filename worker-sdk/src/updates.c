/*
 * updates.c - the client's table of job updates.
 *
 * Entries sit on a list from least to most recently heard of (evicted from
 * the old end) and in two chained hash tables: by job id, and by
 * idempotency key for the entries that have one. A duplicate submission is
 * answered by an update about ANOTHER job (the one the key first created)
 * carrying the key; the key index is how a wait for the new id finds it.
 * Count and bytes are both bounded, so neither many jobs nor large results
 * can grow the table without limit.
 *
 * Refusals (job.refusal) answer one message: the latest submission or
 * cancel of the job noted here, matched by message id, so a late refusal of
 * an earlier message never answers a later one.
 */
#include "updates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint8_t job[JC_ID_LEN];
    char *ikey; /* NULL when none */
    int has_state;
    char state[16];
    uint8_t *result;
    size_t result_len;
    char *error; /* NULL when none */
    char *reason; /* the cancel reason of the latest update; NULL when none */
    /* the latest submission and cancel of this job sent from here, and
     * their refusals ("<reason>: <text>", NULL when none) */
    int has_submit_req, has_cancel_req;
    uint8_t submit_req[JC_ID_LEN], cancel_req[JC_ID_LEN];
    char *submit_refusal, *cancel_refusal;
    int cancel_accepted; /* an update put the job in canceling/canceled since */
    char cancel_state[16];
    size_t bytes;
    struct entry *older, *newer;
    struct entry *next_job, *next_ikey; /* hash chains */
} entry;

struct jc_updates {
    entry **by_job, **by_ikey;
    uint32_t mask;
    entry *oldest, *newest;
    uint32_t n, max_jobs;
    size_t bytes, max_bytes;
};

// hash is FNV-1a.
static uint32_t hash(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

jc_updates *jc_updates_new(uint32_t max_jobs, size_t max_bytes)
{
    jc_updates *t = calloc(1, sizeof *t);
    uint32_t n_buckets = 1;

    if (!t || max_jobs == 0 || max_jobs > (1u << 24))
        goto fail;
    while (n_buckets < max_jobs)
        n_buckets <<= 1;
    t->mask = n_buckets - 1;
    t->max_jobs = max_jobs;
    t->max_bytes = max_bytes;
    t->by_job = calloc(n_buckets, sizeof *t->by_job);
    t->by_ikey = calloc(n_buckets, sizeof *t->by_ikey);
    if (!t->by_job || !t->by_ikey)
        goto fail;
    return t;
fail:
    jc_updates_destroy(t);
    return NULL;
}

// find returns the entry of job, or NULL.
static entry *find(const jc_updates *t, const uint8_t job[JC_ID_LEN])
{
    entry *e = t->by_job[hash(job, JC_ID_LEN) & t->mask];

    while (e && memcmp(e->job, job, JC_ID_LEN) != 0)
        e = e->next_job;
    return e;
}

// unlink_age takes e off the age list.
static void unlink_age(jc_updates *t, entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        t->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        t->newest = e->older;
    e->older = e->newer = NULL;
}

// push_newest puts e at the recent end of the age list.
static void push_newest(jc_updates *t, entry *e)
{
    e->older = t->newest;
    e->newer = NULL;
    if (t->newest)
        t->newest->newer = e;
    else
        t->oldest = e;
    t->newest = e;
}

// unlink_ikey takes e out of the key index.
static void unlink_ikey(jc_updates *t, entry *e)
{
    entry **link;

    if (!e->ikey)
        return;
    link = &t->by_ikey[hash(e->ikey, strlen(e->ikey)) & t->mask];
    while (*link && *link != e)
        link = &(*link)->next_ikey;
    if (*link)
        *link = e->next_ikey;
    e->next_ikey = NULL;
}

// set_ikey replaces e's key (n bytes, may be 0 for none) and re-indexes it.
// -1 when out of memory.
static int set_ikey(jc_updates *t, entry *e, const void *ikey, size_t n)
{
    char *copy = NULL;
    entry **bucket;

    if (n > 0) {
        copy = malloc(n + 1);
        if (!copy)
            return -1;
        memcpy(copy, ikey, n);
        copy[n] = '\0';
    }
    unlink_ikey(t, e);
    if (e->ikey) {
        t->bytes -= strlen(e->ikey);
        e->bytes -= strlen(e->ikey);
    }
    free(e->ikey);
    e->ikey = copy;
    if (!copy)
        return 0;
    t->bytes += n;
    e->bytes += n;
    bucket = &t->by_ikey[hash(copy, n) & t->mask];
    e->next_ikey = *bucket;
    *bucket = e;
    return 0;
}

// drop removes e from the table and frees it.
static void drop(jc_updates *t, entry *e)
{
    entry **link = &t->by_job[hash(e->job, JC_ID_LEN) & t->mask];

    while (*link && *link != e)
        link = &(*link)->next_job;
    if (*link)
        *link = e->next_job;
    unlink_ikey(t, e);
    unlink_age(t, e);
    t->bytes -= e->bytes;
    t->n--;
    free(e->ikey);
    free(e->result);
    free(e->error);
    free(e->reason);
    free(e->submit_refusal);
    free(e->cancel_refusal);
    free(e);
}

// set_text replaces *slot with a copy of text (NULL: none), keeping e's and
// t's byte counts. -1 when out of memory.
static int set_text(jc_updates *t, entry *e, char **slot, const char *text)
{
    char *copy = NULL;
    if (text && !(copy = strdup(text)))
        return -1;
    if (*slot) {
        t->bytes -= strlen(*slot);
        e->bytes -= strlen(*slot);
    }
    free(*slot);
    *slot = copy;
    if (copy) {
        t->bytes += strlen(copy);
        e->bytes += strlen(copy);
    }
    return 0;
}

// evict forgets the least recently heard-of jobs until the table is within
// its bounds, sparing keep.
static void evict(jc_updates *t, const entry *keep)
{
    while ((t->n > t->max_jobs || t->bytes > t->max_bytes) && t->oldest && t->oldest != keep)
        drop(t, t->oldest);
}

// get returns the entry of job, made (and counted) if new; NULL when out of
// memory.
static entry *get(jc_updates *t, const uint8_t job[JC_ID_LEN])
{
    entry *e = find(t, job);
    entry **bucket;

    if (e) {
        unlink_age(t, e);
        push_newest(t, e);
        return e;
    }
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->job, job, JC_ID_LEN);
    bucket = &t->by_job[hash(job, JC_ID_LEN) & t->mask];
    e->next_job = *bucket;
    *bucket = e;
    push_newest(t, e);
    t->n++;
    return e;
}

jc_err_t jc_updates_submitted(jc_updates *t, const uint8_t job[JC_ID_LEN], const char *ikey,
                              const uint8_t req[JC_ID_LEN])
{
    entry *e = get(t, job);

    if (!e)
        return JC_ERR_NOMEM;
    if (ikey && *ikey && set_ikey(t, e, ikey, strlen(ikey)) != 0)
        return JC_ERR_NOMEM;
    if (req) {
        e->has_submit_req = 1;
        memcpy(e->submit_req, req, JC_ID_LEN);
        set_text(t, e, &e->submit_refusal, NULL);
    }
    evict(t, e);
    return JC_OK;
}

jc_err_t jc_updates_cancel_sent(jc_updates *t, const uint8_t job[JC_ID_LEN],
                                const uint8_t req[JC_ID_LEN])
{
    entry *e = get(t, job);

    if (!e)
        return JC_ERR_NOMEM;
    e->has_cancel_req = 1;
    memcpy(e->cancel_req, req, JC_ID_LEN);
    set_text(t, e, &e->cancel_refusal, NULL);
    e->cancel_accepted = 0;
    evict(t, e);
    return JC_OK;
}

jc_err_t jc_updates_refused(jc_updates *t, const jc_job_refusal *r)
{
    entry *e = find(t, r->job);
    int submit = jc_slice_eq(r->of, "job.submit");
    char text[64 + 2 + JC_MAX_TEXT_LEN + 1];

    if (!e || !(submit ? e->has_submit_req && memcmp(e->submit_req, r->request, JC_ID_LEN) == 0
                       : e->has_cancel_req && memcmp(e->cancel_req, r->request, JC_ID_LEN) == 0))
        return JC_OK; /* not an answer to anything sent from here */
    snprintf(text, sizeof text, "%.*s%s%.*s", (int)r->reason.n, (const char *)r->reason.p,
             r->text.n ? ": " : "", (int)r->text.n, r->text.p ? (const char *)r->text.p : "");
    if (set_text(t, e, submit ? &e->submit_refusal : &e->cancel_refusal, text) != 0)
        return JC_ERR_NOMEM;
    unlink_age(t, e);
    push_newest(t, e);
    evict(t, e);
    return JC_OK;
}

int jc_updates_cancel_answer(jc_updates *t, const uint8_t job[JC_ID_LEN], char state[16],
                             const char **refusal)
{
    const entry *e = find(t, job);

    if (!e || !e->has_cancel_req)
        return -1;
    if (e->cancel_refusal) {
        *refusal = e->cancel_refusal;
        return 2;
    }
    if (e->cancel_accepted) {
        snprintf(state, 16, "%s", e->cancel_state);
        return 1;
    }
    return 0;
}

jc_err_t jc_updates_put(jc_updates *t, const jc_job_update *u)
{
    entry *e = get(t, u->job);
    uint8_t *result = NULL;
    char *error = NULL;

    if (!e)
        return JC_ERR_NOMEM;
    if (u->result.n > 0)
        result = malloc(u->result.n);
    if (u->error.n > 0)
        error = malloc((size_t)u->error.n + 1);
    if ((u->result.n > 0 && !result) || (u->error.n > 0 && !error) ||
        (u->ikey.n > 0 && set_ikey(t, e, u->ikey.p, u->ikey.n) != 0)) {
        free(result);
        free(error);
        return JC_ERR_NOMEM;
    }
    if (u->reason.n > 0) {
        char reason[JC_MAX_TEXT_LEN + 1];
        size_t n = u->reason.n < JC_MAX_TEXT_LEN ? u->reason.n : JC_MAX_TEXT_LEN;
        memcpy(reason, u->reason.p, n);
        reason[n] = '\0';
        if (set_text(t, e, &e->reason, reason) != 0) {
            free(result);
            free(error);
            return JC_ERR_NOMEM;
        }
    } else {
        set_text(t, e, &e->reason, NULL);
    }
    if (result)
        memcpy(result, u->result.p, u->result.n);
    if (error) {
        memcpy(error, u->error.p, u->error.n);
        error[u->error.n] = '\0';
    }
    t->bytes -= e->result_len + (e->error ? strlen(e->error) : 0);
    e->bytes -= e->result_len + (e->error ? strlen(e->error) : 0);
    free(e->result);
    free(e->error);
    e->result = result;
    e->result_len = u->result.n;
    e->error = error;
    t->bytes += (size_t)u->result.n + u->error.n;
    e->bytes += (size_t)u->result.n + u->error.n;
    e->has_state = 1;
    memcpy(e->state, u->state.p, u->state.n < sizeof e->state ? u->state.n : sizeof e->state - 1);
    e->state[u->state.n < sizeof e->state ? u->state.n : sizeof e->state - 1] = '\0';
    if (e->has_cancel_req && !e->cancel_refusal &&
        (strcmp(e->state, "canceling") == 0 || strcmp(e->state, "canceled") == 0)) {
        e->cancel_accepted = 1;
        memcpy(e->cancel_state, e->state, sizeof e->cancel_state);
    }
    evict(t, e);
    return JC_OK;
}

// is_final says whether e holds a final state.
static int is_final(const entry *e)
{
    return e->has_state && (strcmp(e->state, "succeeded") == 0 ||
                            strcmp(e->state, "failed") == 0 || strcmp(e->state, "canceled") == 0);
}

// view fills out from e.
static void view(const entry *e, jc_update_view *out)
{
    out->job = e->job;
    out->state = e->state;
    out->result = e->result;
    out->result_len = e->result_len;
    out->error = e->error ? e->error : "";
    out->reason = e->reason ? e->reason : "";
}

int jc_updates_final(jc_updates *t, const uint8_t job[JC_ID_LEN], jc_update_view *out)
{
    const entry *e = find(t, job), *k;

    if (!e)
        return 0;
    if (e->submit_refusal) {
        out->job = e->job;
        out->state = "refused";
        out->result = NULL;
        out->result_len = 0;
        out->error = e->submit_refusal;
        out->reason = "";
        return 1;
    }
    if (is_final(e)) {
        view(e, out);
        return 1;
    }
    if (!e->ikey)
        return 0;
    for (k = t->by_ikey[hash(e->ikey, strlen(e->ikey)) & t->mask]; k; k = k->next_ikey)
        if (k != e && strcmp(k->ikey, e->ikey) == 0 && is_final(k)) {
            view(k, out);
            return 1;
        }
    return 0;
}

int jc_updates_latest(jc_updates *t, const uint8_t job[JC_ID_LEN], jc_update_view *out)
{
    const entry *e = find(t, job);

    if (!e || !e->has_state)
        return 0;
    view(e, out);
    return 1;
}

uint32_t jc_updates_count(const jc_updates *t) { return t->n; }

void jc_updates_destroy(jc_updates *t)
{
    if (!t)
        return;
    while (t->oldest)
        drop(t, t->oldest);
    free(t->by_job);
    free(t->by_ikey);
    free(t);
}
