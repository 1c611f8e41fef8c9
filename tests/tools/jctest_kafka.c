/*
 * jctest_kafka.c - the test suite's Kafka client: produces signed (or
 * deliberately broken) protocol messages and reads topics back.
 *
 *   jctest-kafka produce --brokers B --principal P --key-id K --key B64 [options]
 *       --topic NAME        topic without prefix (default heartbeats)
 *       --type T            message type to sign (default heartbeat)
 *       --count N           messages (default 1); --rate N per second (0: as fast as possible)
 *       --ts-offset-ms X    signed timestamp = now + X
 *       --record-ts-offset-ms X  the record's CreateTime = now + X (default: librdkafka's now)
 *       --forge WHAT        mac | principal-mismatch (payload claims --other, envelope and MAC are P's)
 *       --other ID          see above
 *       --raw-hex HEX       send these bytes as they are (no signing)
 *       --raw-file F        send each line "KEY HEX" of F as one record, as it is
 *                           (records built outside, e.g. by tests/lib/wire.py)
 *       --oversize N        pad: send a signed heartbeat followed by N junk bytes
 *       --repeat N          send each message's exact bytes N times (replays)
 *       --ids-file F        append the UUID of every delivered message to F
 *       --worker-prefix W --workers N  cycle over principals W0..W(N-1), keys from
 *                           --keys-file (lines "principal key_id base64key")
 *   job fields: --job-id UUID --ikey K --attempt N --kind KIND (job.event kind)
 *       --text T --result T --retry --progress N --cmd UUID --running UUID@ATT[,..]
 *       --reason T --timeout-ms N --max-attempts N --job-type T --ack-ok 0|1
 *       --payload TEXT --proto-version N (the protocol version to write, default 1)
 *   jctest-kafka consume --brokers B --topic NAME [--timeout-ms T] [--max N] [--decode]
 *       prints one line per record: key, then each header as name=value, then
 *       len=<value bytes>, tab-separated; with --decode also the envelope's
 *       v=, t= and, for a job.update, job=, state=, err= and reason=, for a
 *       command kind= and job= (the signed
 *       payload decoded by its version's rules, the MAC not checked), or
 *       decode=<reason code> when the codec rejects it
 *
 * Prints "delivered N failed M" on stderr at the end of produce; exit 0 only
 * when every message was delivered.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <sodium.h>

#include "jcproto/proto.h"

typedef struct ident {
    char principal[80], key_id[80];
    uint8_t key[JC_KEY_LEN];
    uint64_t last_ts;
    uint64_t seq;
} ident;

static long delivered, failed;

/* job fields for the message types this tool builds */
static struct {
    const char *job_id, *ikey, *kind, *text, *result, *cmd, *running, *reason, *job_type, *payload;
    int attempt, retry, progress, timeout_ms, max_attempts, ack_ok;
} jf = {NULL, NULL, "started", NULL, NULL, NULL, NULL, NULL, "test", NULL, 1, 0, -1, 0, 0, 1};
static FILE *ids_file;
static uint32_t proto_version; /* --proto-version: the envelope's "v" (0: 1) */
static int64_t record_ts_offset; /* --record-ts-offset-ms; 0: librdkafka sets the time */
static volatile sig_atomic_t stop;

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        failed++;
        return;
    }
    delivered++;
    if (ids_file && m->_private) {
        fprintf(ids_file, "%s\n", (char *)m->_private);
    }
    free(m->_private);
}

static int decode_key(const char *b64, uint8_t key[JC_KEY_LEN])
{
    size_t n = 0;
    return sodium_base642bin(key, JC_KEY_LEN, b64, strlen(b64), NULL, &n, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 && n == JC_KEY_LEN ? 0 : -1;
}

static int hex_decode(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex) / 2, bin_len = 0;
    *out = malloc(n + 1);
    if (!*out)
        return -1;
    if (sodium_hex2bin(*out, n, hex, strlen(hex), NULL, &bin_len, NULL) != 0)
        return -1;
    *len = bin_len;
    return 0;
}

static rd_kafka_t *make_producer(const char *brokers)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_t *rk;
    if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof err) ||
        rd_kafka_conf_set(c, "linger.ms", "2", err, sizeof err) ||
        rd_kafka_conf_set(c, "message.max.bytes", "2000000", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(111);
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        exit(111);
    }
    return rk;
}

static void produce_bytes(rd_kafka_t *rk, const char *topic, const char *key, const void *p,
                          size_t n, const uint8_t *id)
{
    char *idtext = NULL;
    if (id) {
        idtext = malloc(37);
        jc_id_format(id, idtext);
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)p, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(record_ts_offset ? (int64_t)jc_now_ms() + record_ts_offset : 0),
            RD_KAFKA_V_OPAQUE(idtext), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
            continue;
        }
        if (e) {
            fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
            failed++;
            free(idtext);
        }
        break;
    }
    rd_kafka_poll(rk, 0);
}

// build_message fills m as a valid message of type t signed by id.
static void set_job_id(uint8_t out[JC_ID_LEN])
{
    if (!jf.job_id)
        jc_id_random(out);
    else if (jc_id_parse(jf.job_id, out) != 0) {
        fprintf(stderr, "bad --job-id\n");
        exit(100);
    }
}

static jc_running_job running_jobs[JC_MAX_RUNNING];

static void build_message(jc_msg *m, jc_msg_type t, ident *id, int64_t ts_offset, jc_slice *caps,
                          uint8_t *payload)
{
    uint64_t ts = (uint64_t)((int64_t)jc_now_ms() + ts_offset);
    if (ts <= id->last_ts)
        ts = id->last_ts + 1;
    id->last_ts = ts;
    memset(m, 0, sizeof *m);
    m->type = t;
    jc_id_random(m->id);
    m->ts_ms = ts;
    m->principal = jc_slice_str(id->principal);
    m->version = proto_version;
    switch (t) {
    case JC_MSG_HEARTBEAT:
        caps[0] = jc_slice_str("test");
        m->u.hb.caps = caps;
        m->u.hb.n_caps = 1;
        m->u.hb.slots = 2;
        m->u.hb.version = jc_slice_str("jctest");
        m->u.hb.host = jc_slice_str("localhost");
        m->u.hb.seq = ++id->seq;
        caps[0] = jc_slice_str(jf.job_type);
        if (jf.running) {
            static char buf[JC_MAX_RUNNING * 48];
            char *save = NULL, *tok;
            snprintf(buf, sizeof buf, "%s", jf.running);
            for (tok = strtok_r(buf, ",", &save); tok && m->u.hb.n_running < JC_MAX_RUNNING;
                 tok = strtok_r(NULL, ",", &save)) {
                char *at = strchr(tok, '@');
                if (!at)
                    continue;
                *at = '\0';
                if (jc_id_parse(tok, running_jobs[m->u.hb.n_running].job) != 0)
                    continue;
                running_jobs[m->u.hb.n_running++].attempt = (uint32_t)atoi(at + 1);
            }
            m->u.hb.running = running_jobs;
        }
        break;
    case JC_MSG_JOB_SUBMIT:
        set_job_id(m->u.submit.job);
        m->u.submit.type = jc_slice_str(jf.job_type);
        m->u.submit.payload = jf.payload ? jc_slice_str(jf.payload) : (jc_slice){payload, 4};
        m->u.submit.max_attempts = jf.max_attempts ? (uint32_t)jf.max_attempts : 3;
        if (jf.ikey)
            m->u.submit.ikey = jc_slice_str(jf.ikey);
        if (jf.timeout_ms) {
            m->u.submit.has_timeout = 1;
            m->u.submit.timeout_ms = (uint32_t)jf.timeout_ms;
        }
        break;
    case JC_MSG_JOB_CANCEL:
        set_job_id(m->u.cancel.job);
        if (jf.reason)
            m->u.cancel.reason = jc_slice_str(jf.reason);
        break;
    case JC_MSG_JOB_EVENT: {
        jc_job_event *e = &m->u.event;
        set_job_id(e->job);
        e->attempt = (uint32_t)jf.attempt;
        e->kind = jc_job_event_kind_parse((const uint8_t *)jf.kind, strlen(jf.kind));
        if (jf.text)
            e->text = jc_slice_str(jf.text);
        if (e->kind == JC_EV_LOG)
            e->stream = jc_slice_str("stdout");
        if (jf.result)
            e->result = jc_slice_str(jf.result);
        e->retryable = jf.retry;
        if (jf.progress >= 0) {
            e->has_progress = 1;
            e->progress = (uint32_t)jf.progress;
        }
        if (jf.cmd) {
            e->has_command = 1;
            if (jc_id_parse(jf.cmd, e->command) != 0)
                exit(100);
        }
        break;
    }
    case JC_MSG_COMMAND_ACK:
        if (!jf.cmd || jc_id_parse(jf.cmd, m->u.ack.command) != 0)
            exit(100);
        m->u.ack.ok = jf.ack_ok;
        if (!jf.ack_ok)
            m->u.ack.error = jc_slice_str("refused by test");
        break;
    case JC_MSG_WORKER_EVENT:
        m->u.wevent.level = jc_slice_str("info");
        m->u.wevent.kind = jc_slice_str("test.event");
        m->u.wevent.text = jc_slice_str("hello");
        break;
    default:
        fprintf(stderr, "type not supported by this tool\n");
        exit(100);
    }
}

static int load_keys(const char *path, ident **out)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int n = 0;
    if (!f)
        return -1;
    *out = calloc(4096, sizeof **out);
    while (fgets(line, sizeof line, f) && n < 4096) {
        char b64[200];
        ident *id = &(*out)[n];
        if (sscanf(line, "%79s %79s %199s", id->principal, id->key_id, b64) != 3)
            continue;
        if (decode_key(b64, id->key) != 0)
            return -1;
        n++;
    }
    fclose(f);
    return n;
}

static int cmd_produce(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", 1, 0, 'b'}, {"principal", 1, 0, 'p'}, {"key-id", 1, 0, 'k'},
        {"key", 1, 0, 'K'},     {"topic", 1, 0, 't'},     {"type", 1, 0, 'T'},
        {"count", 1, 0, 'n'},   {"rate", 1, 0, 'r'},      {"ts-offset-ms", 1, 0, 'o'},
        {"forge", 1, 0, 'f'},   {"other", 1, 0, 'O'},     {"raw-hex", 1, 0, 'x'}, {"raw-file", 1, 0, 'Z'},
        {"oversize", 1, 0, 's'}, {"repeat", 1, 0, 'R'},   {"ids-file", 1, 0, 'i'},
        {"keys-file", 1, 0, 'F'}, {"prefix", 1, 0, 'P'},
        {"job-id", 1, 0, 1001},   {"ikey", 1, 0, 1002},   {"attempt", 1, 0, 1003},
        {"kind", 1, 0, 1004},     {"text", 1, 0, 1005},   {"result", 1, 0, 1006},
        {"retry", 0, 0, 1007},    {"progress", 1, 0, 1008}, {"cmd", 1, 0, 1009},
        {"running", 1, 0, 1010},  {"reason", 1, 0, 1011}, {"timeout-ms", 1, 0, 1012},
        {"max-attempts", 1, 0, 1013}, {"job-type", 1, 0, 1014}, {"ack-ok", 1, 0, 1015},
        {"payload", 1, 0, 1016}, {"record-ts-offset-ms", 1, 0, 1017},
        {"proto-version", 1, 0, 1018},
        {0, 0, 0, 0}};
    const char *brokers = NULL, *topic = "heartbeats", *type = "heartbeat", *forge = NULL,
               *other = NULL, *raw = NULL, *raw_file = NULL, *prefix = "jobcoord.", *keys_file = NULL;
    ident single, *idents = &single;
    int n_idents = 1, opt;
    long count = 1, rate = 0, oversize = 0, repeat = 1;
    int64_t ts_offset = 0;
    char full_topic[256];
    rd_kafka_t *rk;
    struct timespec t0;

    memset(&single, 0, sizeof single);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 'p': snprintf(single.principal, sizeof single.principal, "%s", optarg); break;
        case 'k': snprintf(single.key_id, sizeof single.key_id, "%s", optarg); break;
        case 'K':
            if (decode_key(optarg, single.key)) {
                fprintf(stderr, "bad --key\n");
                return 100;
            }
            break;
        case 't': topic = optarg; break;
        case 'T': type = optarg; break;
        case 'n': count = atol(optarg); break;
        case 'r': rate = atol(optarg); break;
        case 'o': ts_offset = atoll(optarg); break;
        case 'f': forge = optarg; break;
        case 'O': other = optarg; break;
        case 'x': raw = optarg; break;
        case 'Z': raw_file = optarg; break;
        case 's': oversize = atol(optarg); break;
        case 'R': repeat = atol(optarg); break;
        case 'i': ids_file = fopen(optarg, "a"); break;
        case 'F': keys_file = optarg; break;
        case 'P': prefix = optarg; break;
        case 1001: jf.job_id = optarg; break;
        case 1002: jf.ikey = optarg; break;
        case 1003: jf.attempt = atoi(optarg); break;
        case 1004: jf.kind = optarg; break;
        case 1005: jf.text = optarg; break;
        case 1006: jf.result = optarg; break;
        case 1007: jf.retry = 1; break;
        case 1008: jf.progress = atoi(optarg); break;
        case 1009: jf.cmd = optarg; break;
        case 1010: jf.running = optarg; break;
        case 1011: jf.reason = optarg; break;
        case 1012: jf.timeout_ms = atoi(optarg); break;
        case 1013: jf.max_attempts = atoi(optarg); break;
        case 1014: jf.job_type = optarg; break;
        case 1015: jf.ack_ok = atoi(optarg); break;
        case 1016: jf.payload = optarg; break;
        case 1017: record_ts_offset = atoll(optarg); break;
        case 1018: proto_version = (uint32_t)atoi(optarg); break;
        default: return 100;
        }
    }
    if (!brokers) {
        fprintf(stderr, "--brokers is required\n");
        return 100;
    }
    if (keys_file) {
        n_idents = load_keys(keys_file, &idents);
        if (n_idents <= 0) {
            fprintf(stderr, "cannot read %s\n", keys_file);
            return 100;
        }
    }
    snprintf(full_topic, sizeof full_topic, "%s%s", prefix, topic);
    rk = make_producer(brokers);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if (raw) {
        uint8_t *bytes;
        size_t len;
        if (hex_decode(raw, &bytes, &len) != 0) {
            fprintf(stderr, "bad --raw-hex\n");
            return 100;
        }
        for (long i = 0; i < count; i++)
            produce_bytes(rk, full_topic, single.principal[0] ? single.principal : "raw", bytes,
                          len, NULL);
        free(bytes);
    }
    if (raw_file) {
        FILE *f = fopen(raw_file, "r");
        char *line = NULL, *sp;
        size_t cap = 0;
        if (!f) {
            fprintf(stderr, "cannot read %s\n", raw_file);
            return 100;
        }
        while (getline(&line, &cap, f) > 0 && !stop) {
            uint8_t *bytes;
            size_t len;
            line[strcspn(line, "\r\n")] = '\0';
            if (!(sp = strchr(line, ' ')) || (*sp = '\0', hex_decode(sp + 1, &bytes, &len) != 0)) {
                fprintf(stderr, "bad --raw-file line\n");
                return 100;
            }
            produce_bytes(rk, full_topic, line, bytes, len, NULL);
            free(bytes);
        }
        free(line);
        fclose(f);
        raw = "";
    }
    for (long i = 0; !raw && i < count && !stop; i++) {
        ident *id = &idents[i % n_idents];
        jc_msg m;
        jc_slice caps[1];
        uint8_t payload[4] = {1, 2, 3, 4};
        msgpack_sbuffer sb;
        char err[256];
        jc_slice kid = jc_slice_str(id->key_id);
        jc_msg_type t = jc_msg_type_parse((const uint8_t *)type, strlen(type));

        build_message(&m, t, id, ts_offset, caps, payload);
        msgpack_sbuffer_init(&sb);
        if (forge && strcmp(forge, "principal-mismatch") == 0) {
            /* the payload claims to come from --other; the envelope names
             * us and carries our valid MAC */
            msgpack_sbuffer body;
            jc_slice me = jc_slice_str(id->principal);
            m.principal = jc_slice_str(other ? other : "someone-else");
            msgpack_sbuffer_init(&body);
            if (jc_msg_encode_signed(&m, &body, err, sizeof err) != JC_OK ||
                jc_envelope_seal(&me, &kid, id->key, (const uint8_t *)body.data, body.size,
                                 &sb) != JC_OK) {
                fprintf(stderr, "encode: %s\n", err);
                return 111;
            }
            msgpack_sbuffer_destroy(&body);
        } else {
            uint8_t key[JC_KEY_LEN];
            memcpy(key, id->key, sizeof key);
            if (forge && strcmp(forge, "mac") == 0)
                key[0] ^= 0x5a; /* a key that is not the principal's */
            if (jc_msg_seal(&m, &kid, key, &sb, err, sizeof err) != JC_OK) {
                fprintf(stderr, "encode: %s\n", err);
                return 111;
            }
        }
        if (oversize > 0) {
            char *junk = calloc(1, (size_t)oversize);
            msgpack_sbuffer_write(&sb, junk, (size_t)oversize);
            free(junk);
        }
        for (long r = 0; r < repeat; r++)
            produce_bytes(rk, full_topic, id->principal, sb.data, sb.size, r == 0 ? m.id : NULL);
        msgpack_sbuffer_destroy(&sb);
        if (rate > 0) {
            struct timespec now;
            double due = (double)(i + 1) / (double)rate, el;
            clock_gettime(CLOCK_MONOTONIC, &now);
            el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
            if (due > el)
                usleep((useconds_t)((due - el) * 1e6));
        }
    }
    rd_kafka_flush(rk, 30000);
    fprintf(stderr, "delivered %ld failed %ld\n", delivered, failed);
    printf("%ld\n", delivered);
    if (ids_file)
        fclose(ids_file);
    rd_kafka_destroy(rk);
    if (idents != &single)
        free(idents);
    return failed == 0 ? 0 : 1;
}

// print_decoded prints what --decode shows of record m (see the top).
static void print_decoded(const rd_kafka_message_t *m)
{
    jc_envelope env;
    jc_msg msg;
    const char *reason = NULL;
    char errstr[256];

    if (jc_envelope_parse(m->payload, m->len, 0, &env, errstr, sizeof errstr) != JC_OK) {
        printf("\tdecode=envelope");
        return;
    }
    printf("\tv=%u", (unsigned)env.version);
    if (jc_msg_decode_reason(&env, &msg, &reason, errstr, sizeof errstr) != JC_OK) {
        printf("\tdecode=%s", reason ? reason : "?");
        return;
    }
    printf("\tt=%s", jc_msg_type_name(msg.type));
    if (msg.type == JC_MSG_JOB_UPDATE) {
        const jc_job_update *u = &msg.u.update;
        char job[37];
        jc_id_format(u->job, job);
        printf("\tjob=%s\tstate=%.*s\terr=%.*s\treason=%.*s", job, (int)u->state.n,
               (const char *)u->state.p, (int)u->error.n,
               u->error.p ? (const char *)u->error.p : "", (int)u->reason.n,
               u->reason.p ? (const char *)u->reason.p : "");
    } else if (msg.type == JC_MSG_COMMAND) {
        char job[37];
        jc_id_format(msg.u.cmd.job, job);
        printf("\tkind=%s\tjob=%s", jc_command_kind_name(msg.u.cmd.kind), job);
    }
    jc_msg_release(&msg);
}

static int cmd_consume(int argc, char **argv)
{
    static const struct option opts[] = {{"brokers", 1, 0, 'b'}, {"topic", 1, 0, 't'},
                                         {"timeout-ms", 1, 0, 'w'}, {"max", 1, 0, 'm'},
                                         {"prefix", 1, 0, 'P'}, {"decode", 0, 0, 'd'},
                                         {0, 0, 0, 0}};
    const char *brokers = NULL, *topic = "rejected", *prefix = "jobcoord.";
    long timeout_ms = 5000, max = 1000000, seen = 0;
    int decode = 0;
    char err[256], full_topic[256], group[64];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *subs;
    rd_kafka_t *rk;
    struct timespec t0, now;
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'w': timeout_ms = atol(optarg); break;
        case 'm': max = atol(optarg); break;
        case 'P': prefix = optarg; break;
        case 'd': decode = 1; break;
        default: return 100;
        }
    }
    if (!brokers)
        return 100;
    snprintf(full_topic, sizeof full_topic, "%s%s", prefix, topic);
    snprintf(group, sizeof group, "jctest-%d-%ld", (int)getpid(), (long)time(NULL));
    if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(c, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 111;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        return 111;
    }
    rd_kafka_poll_set_consumer(rk);
    subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, full_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (seen < max) {
        rd_kafka_message_t *m;
        rd_kafka_headers_t *h = NULL;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
            break;
        m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            printf("%.*s", (int)m->key_len, m->key ? (const char *)m->key : "");
            if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char *name;
                const void *val;
                size_t sz;
                for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &sz); i++)
                    printf("\t%s=%.*s", name, (int)sz, val ? (const char *)val : "");
            }
            printf("\tlen=%zu", m->len);
            if (decode)
                print_decoded(m);
            printf("\n");
            fflush(stdout);
            seen++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (sodium_init() < 0)
        return 111;
    if (argc >= 2 && strcmp(argv[1], "produce") == 0)
        return cmd_produce(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "consume") == 0)
        return cmd_consume(argc - 1, argv + 1);
    fprintf(stderr, "usage: jctest-kafka produce|consume [options] (see the source)\n");
    return 100;
}
