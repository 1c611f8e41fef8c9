/*
 * bench_jobs.h - state shared by the jobs scenario's threads (bench_jobs.c
 * runs the scenario and the clients; bench_fleet.c the simulated workers and
 * the clients' update reader).
 *
 * Every job the clients submit has a slot in a table allocated up front;
 * the job id carries its slot number (the last 4 bytes, masked with a
 * per-run random value; the other 12 bytes are random), so each thread
 * finds a job's slot without a shared map. The submitter fills a slot and
 * then publishes it by raising n_submitted (release), before producing.
 */
#ifndef JC_BENCH_JOBS_H
#define JC_BENCH_JOBS_H

#include <stdatomic.h>

#include "bench.h"

#define BENCH_JOB_TYPE "bench.noop"

typedef struct job_slot {
    uint8_t id[JC_ID_LEN];
    int64_t submit_us;           /* written before publication */
    _Atomic int64_t assigned_us; /* the worker received the assign command */
    _Atomic int64_t done_us;     /* the client received job.update succeeded */
    atomic_int answered;         /* the worker produced its event */
} job_slot;

typedef struct jobs_run {
    const bench_opts *o;
    principal *ws, *cs; /* workers and clients, sorted by id */
    int n_ws, n_cs;
    double rate;
    double t0; /* bench_now() at the start */
    rd_kafka_t *prod;
    rd_kafka_topic_t *t_submit, *t_events, *t_hb;
    rd_kafka_t *c_commands, *c_updates; /* assigned before the first submission */
    char topic_commands[256], topic_updates[256];

    job_slot *jobs;
    size_t cap;
    atomic_size_t n_submitted;
    uint32_t idx_mask;

    atomic_int stop_submit, stop_all;
    atomic_llong assigned, completed, duplicates, bad_commands, other_commands;
    atomic_llong other_updates, produce_failures, other_jobs;
    char other_update_state[32]; /* first non-succeeded state seen, for the note */
} jobs_run;

/* jobs_us returns microseconds since r->t0. */
int64_t jobs_us(const jobs_run *r);
/* jobs_find returns the slot of job id, or NULL when it is not one of ours. */
job_slot *jobs_find(jobs_run *r, const uint8_t id[JC_ID_LEN]);

/* jobs_setup makes r's producer and consumers (the consumers assigned at
 * the current ends, before anything is submitted); jobs_teardown frees
 * them and r->jobs. jobs_submitter is the thread submitting r->cap jobs at
 * r->rate, open loop, until stop_submit. */
int jobs_setup(jobs_run *r, char *err, size_t err_size);
void jobs_teardown(jobs_run *r);
void *jobs_submitter(void *arg);

/* Threads of bench_fleet.c; each runs until stop_all. */
void *fleet_heartbeats(void *arg); /* every worker, every second */
void *fleet_commands(void *arg);   /* workers: read commands, answer assigns */
void *fleet_updates(void *arg);    /* clients: read job updates */

/* fleet_send_heartbeats sends one heartbeat for every worker now; with
 * draining set, the workers say they take no new jobs (sent when a step
 * ends, so that the next step's jobs are not assigned to workers that no
 * longer answer, while the coordinator still counts them online). */
int fleet_send_heartbeats(jobs_run *r, msgpack_sbuffer *sb, int draining);

#endif
