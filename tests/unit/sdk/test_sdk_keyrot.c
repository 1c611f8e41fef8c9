/*
 * test_sdk_keyrot: a client takes a key rotation without a restart. Its
 * key.file is rewritten with a new key ("KEY_ID BASE64"); within
 * key.reload.ms the client signs with the new key, and still verifies job
 * updates signed with the previous one (the coordinator keeps signing with
 * the key the client last proved it holds until it sees the new one), as
 * well as updates signed with the new key. jc_client_reload_key re-reads the
 * file at once; a broken file keeps the keys held; a key given inline
 * cannot be reloaded. The test plays the coordinator over the mock cluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>

#include "check.h"
#include "sdk_mock.h"
#include "tmpfiles.h"

#define CLIENT "client-r"

// next_kid reads the next job request and checks that it is signed with
// key under key id kid.
static int next_kid(rd_kafka_t *cons, const char *kid, const uint8_t key[JC_KEY_LEN])
{
    rd_kafka_message_t *rec = NULL;
    jc_envelope env;
    char err[256];
    int rc = -1;

    for (int i = 0; i < 100 && !rec; i++) {
        rec = rd_kafka_consumer_poll(cons, 50);
        if (rec && rec->err) {
            rd_kafka_message_destroy(rec);
            rec = NULL;
        }
    }
    if (!rec)
        return -1;
    if (jc_envelope_parse(rec->payload, rec->len, 0, &env, err, sizeof err) == JC_OK &&
        jc_slice_eq(env.key_id, kid) && jc_envelope_verify(&env, key) == JC_OK)
        rc = 0;
    else
        fprintf(stderr, "request signed with key '%.*s', expected '%s'\n", (int)env.key_id.n,
                (const char *)env.key_id.p, kid);
    rd_kafka_message_destroy(rec);
    return rc;
}

// update sends a final job.update for job, signed with key under kid.
static void update(rd_kafka_t *prod, const char *job, const char *kid,
                   const uint8_t key[JC_KEY_LEN])
{
    jc_msg m;
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_UPDATE;
    CHECK_EQ_INT(jc_id_parse(job, m.u.update.job), 0);
    m.u.update.state = jc_slice_str("succeeded");
    m.u.update.attempt = 1;
    CHECK_EQ_INT(mock_send_kid(prod, "t.job-updates", CLIENT, -1, &m, kid, key), 0);
}

static void write_key(const char *dir, const char *kid, const char *b64)
{
    char line[200];
    snprintf(line, sizeof line, "%s%s%s\n", kid ? kid : "", kid ? " " : "", b64);
    /* write then rename, as an operator (or a secrets agent) should */
    tmp_write(dir, "key.new", line);
    {
        char from[300], to[300];
        snprintf(from, sizeof from, "%s/key.new", dir);
        snprintf(to, sizeof to, "%s/key", dir);
        CHECK_EQ_INT(rename(from, to), 0);
    }
}

int main(void)
{
    const char *topics[] = {"t.job-requests"};
    const int partitions[] = {2};
    char err[512], b64[4][64], dir[] = "/tmp/jc-keyrot-XXXXXX", path[300], id[37], state[16];
    uint8_t key[4][JC_KEY_LEN];
    rd_kafka_conf_t *hc = rd_kafka_conf_new();
    rd_kafka_t *host, *prod, *cons;
    rd_kafka_mock_cluster_t *mc;
    jc_conf_t *conf = jc_conf_new(), *inline_conf;
    jc_client_t *c, *ic;

    CHECK(sodium_init() >= 0);
    CHECK(mkdtemp(dir) != NULL);
    rd_kafka_conf_set(hc, "log_level", "3", err, sizeof err);
    host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof err);
    mc = rd_kafka_mock_cluster_new(host, 1);
    rd_kafka_mock_topic_create(mc, "t.job-requests", 2, 1);
    rd_kafka_mock_topic_create(mc, "t.job-updates", 4, 1);
    prod = mock_producer(mc);
    cons = mock_consumer(mc, topics, partitions, 1);
    for (int i = 0; i < 4; i++)
        mock_key(key[i], b64[i]);

    /* the key file holds only the key; key.id names it */
    write_key(dir, NULL, b64[0]);
    snprintf(path, sizeof path, "%s/key", dir);
    jc_conf_set(conf, "principal", CLIENT, err, sizeof err);
    jc_conf_set(conf, "key.id", "k1", err, sizeof err);
    jc_conf_set(conf, "key.file", path, err, sizeof err);
    CHECK_EQ_INT(jc_conf_set(conf, "key.reload.ms", "-1", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(conf, "key.reload.ms", "100", err, sizeof err), JC_OK);
    jc_conf_set(conf, "kafka.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                sizeof err);
    jc_conf_set(conf, "kafka.fetch.wait.max.ms", "10", err, sizeof err);
    jc_conf_set(conf, "topic.prefix", "t.", err, sizeof err);
    inline_conf = jc_conf_dup(conf);
    c = jc_client_new(conf, err, sizeof err);
    CHECK_MSG(c != NULL, "jc_client_new: %s", err);
    if (!c)
        return check_done("test_sdk_keyrot");

    CHECK_EQ_INT(jc_client_submit(c, "echo", "a", 1, NULL, id, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_kid(cons, "k1", key[0]), 0);
    update(prod, id, "k1", key[0]);
    CHECK_EQ_INT(jc_client_wait(c, id, 5000, state, NULL, NULL, NULL, 0), JC_OK);
    CHECK_EQ_INT(jc_client_key_rotations(c), 0);

    /* rotation: the file now names the new key id; no restart, no call */
    write_key(dir, "k2", b64[1]);
    usleep(400000);
    CHECK_EQ_INT(jc_client_submit(c, "echo", "b", 1, NULL, id, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_kid(cons, "k2", key[1]), 0);
    CHECK_EQ_INT(jc_client_key_rotations(c), 1);
    /* the coordinator has not seen k2 yet: its update is signed with k1 */
    update(prod, id, "k1", key[0]);
    CHECK_EQ_INT(jc_client_wait(c, id, 5000, state, NULL, NULL, NULL, 0), JC_OK);
    CHECK_EQ_STR(state, "succeeded");
    /* then with k2 */
    CHECK_EQ_INT(jc_client_submit(c, "echo", "c", 1, NULL, id, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_kid(cons, "k2", key[1]), 0);
    update(prod, id, "k2", key[1]);
    CHECK_EQ_INT(jc_client_wait(c, id, 5000, state, NULL, NULL, NULL, 0), JC_OK);
    /* forged: the right key id, another key */
    CHECK_EQ_INT(jc_client_submit(c, "echo", "d", 1, NULL, id, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_kid(cons, "k2", key[1]), 0);
    update(prod, id, "k2", key[3]);
    update(prod, id, "k1", key[3]);
    CHECK_EQ_INT(jc_client_wait(c, id, 500, state, NULL, NULL, NULL, 0), JC_ERR_TIMED_OUT);
    CHECK_EQ_INT(jc_client_updates_dropped(c), 2);

    /* an explicit reload, at once */
    write_key(dir, "k3", b64[2]);
    CHECK_EQ_INT(jc_client_reload_key(c, err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_client_key_rotations(c), 2);
    CHECK_EQ_INT(jc_client_submit(c, "echo", "e", 1, NULL, id, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_kid(cons, "k3", key[2]), 0);
    /* a broken file: refused with a reason, the keys held stay */
    write_key(dir, "k4", "not-base64!");
    CHECK_EQ_INT(jc_client_reload_key(c, err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK(strstr(err, "base64") != NULL);
    write_key(dir, "bad key id with spaces", b64[3]);
    CHECK_EQ_INT(jc_client_reload_key(c, err, sizeof err), JC_ERR_INVALID_CONF);
    usleep(300000);
    CHECK_EQ_INT(jc_client_submit(c, "echo", "f", 1, NULL, id, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_kid(cons, "k3", key[2]), 0);
    CHECK_EQ_INT(jc_client_key_rotations(c), 2);
    unlink(path);
    CHECK_EQ_INT(jc_client_reload_key(c, err, sizeof err), JC_ERR_IO);

    /* a key given inline cannot be reloaded */
    jc_conf_set(inline_conf, "key", b64[0], err, sizeof err);
    ic = jc_client_new(inline_conf, err, sizeof err);
    CHECK_MSG(ic != NULL, "jc_client_new: %s", err);
    if (ic) {
        CHECK_EQ_INT(jc_client_reload_key(ic, err, sizeof err), JC_ERR_STATE);
        jc_client_destroy(ic);
    } else {
        jc_conf_destroy(inline_conf);
    }
    CHECK_EQ_INT(jc_client_reload_key(NULL, err, sizeof err), JC_ERR_INVALID_ARG);

    jc_client_destroy(c);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    rmdir(dir);
    return check_done("test_sdk_keyrot");
}
