/*
 * topics.h - Kafka topic names of protocol v1 (without the configurable
 * prefix, "jobcoord." by default) and the message types each carries.
 * schemas/PROTOCOL.md, "Topics", is the normative list.
 */
#ifndef JC_TOPICS_H
#define JC_TOPICS_H

#define JC_TOPIC_HEARTBEATS "heartbeats"       /* key: worker id */
#define JC_TOPIC_JOB_REQUESTS "job-requests"   /* key: submitter id */
#define JC_TOPIC_JOB_EVENTS "job-events"       /* key: job id */
#define JC_TOPIC_WORKER_EVENTS "worker-events" /* key: worker id */
#define JC_TOPIC_COMMAND_ACKS "command-acks"   /* key: worker id */
#define JC_TOPIC_COMMANDS "commands"           /* key: worker id */
#define JC_TOPIC_JOB_UPDATES "job-updates"     /* key: submitter id */
#define JC_TOPIC_REJECTED "rejected"           /* dead letters */

/* Every topic, for the embedded cluster to create. */
#define JC_TOPICS_ALL                                                                 \
    {                                                                                 \
        JC_TOPIC_HEARTBEATS, JC_TOPIC_JOB_REQUESTS, JC_TOPIC_JOB_EVENTS,              \
            JC_TOPIC_WORKER_EVENTS, JC_TOPIC_COMMAND_ACKS, JC_TOPIC_COMMANDS,         \
            JC_TOPIC_JOB_UPDATES, JC_TOPIC_REJECTED                                   \
    }
#define JC_TOPICS_COUNT 8

#endif
