/* test_sdk_conf: the SDK's public configuration, error and version API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>

#include "check.h"

static void test_conf(void)
{
    char err[256];
    jc_conf_t *c = jc_conf_new(), *d;

    CHECK(c != NULL);
    CHECK_EQ_INT(jc_conf_set(c, "principal", "w1", err, sizeof err), JC_OK);
    CHECK_EQ_STR(jc_conf_get(c, "principal"), "w1");
    CHECK_EQ_INT(jc_conf_set(c, "principal", "w2", err, sizeof err), JC_OK);
    CHECK_EQ_STR(jc_conf_get(c, "principal"), "w2");
    CHECK(jc_conf_get(c, "key") == NULL);

    CHECK_EQ_INT(jc_conf_set(c, "no.such.key", "1", err, sizeof err), JC_ERR_UNKNOWN_CONF);
    CHECK(strstr(err, "no.such.key") != NULL);
    CHECK_EQ_INT(jc_conf_set(c, "slots", "many", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK(strstr(err, "slots") != NULL);
    CHECK_EQ_INT(jc_conf_set(c, "slots", "2000", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "slots", "4x", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "heartbeat.interval.ms", "10", err, sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "slots", "4", err, sizeof err), JC_OK);
    /* kafka.* passes through, validated by librdkafka at handle creation */
    CHECK_EQ_INT(jc_conf_set(c, "kafka.socket.timeout.ms", "5000", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_conf_set(c, "kafka.", "x", err, sizeof err), JC_ERR_UNKNOWN_CONF);
    CHECK_EQ_INT(jc_conf_set(c, NULL, "x", err, sizeof err), JC_ERR_INVALID_ARG);

    d = jc_conf_dup(c);
    CHECK(d != NULL);
    CHECK_EQ_STR(jc_conf_get(d, "slots"), "4");
    CHECK_EQ_STR(jc_conf_get(d, "kafka.socket.timeout.ms"), "5000");
    jc_conf_destroy(d);
    jc_conf_destroy(c);
    jc_conf_destroy(NULL);
}

static void test_conf_file(void)
{
    char path[] = "/tmp/jc-conf-XXXXXX", err[512];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    jc_conf_t *c = jc_conf_new();

    fprintf(f, "# a comment\n\nprincipal = w9\n  slots=3  \ncapabilities = a,b\n");
    fclose(f);
    CHECK_EQ_INT(jc_conf_load_file(c, path, err, sizeof err), JC_OK);
    CHECK_EQ_STR(jc_conf_get(c, "principal"), "w9");
    CHECK_EQ_STR(jc_conf_get(c, "slots"), "3");
    CHECK_EQ_STR(jc_conf_get(c, "capabilities"), "a,b");

    f = fopen(path, "w");
    fprintf(f, "principal = w9\nsolts = 3\n");
    fclose(f);
    CHECK_EQ_INT(jc_conf_load_file(c, path, err, sizeof err), JC_ERR_UNKNOWN_CONF);
    CHECK_MSG(strstr(err, ":2:") && strstr(err, "solts"), "error names line and key: %s", err);

    f = fopen(path, "w");
    fprintf(f, "just words\n");
    fclose(f);
    CHECK_EQ_INT(jc_conf_load_file(c, path, err, sizeof err), JC_ERR_INVALID_CONF);
    unlink(path);
    CHECK_EQ_INT(jc_conf_load_file(c, path, err, sizeof err), JC_ERR_IO);
    jc_conf_destroy(c);
}

static void test_errors_and_version(void)
{
    CHECK_EQ_STR(jc_err_name(JC_ERR_SCHEMA), "JC_ERR_SCHEMA");
    CHECK_EQ_STR(jc_err2str(JC_OK), "success");
    CHECK_EQ_STR(jc_err2str((jc_err_t)9999), "unknown error");
    CHECK(jc_error_is_retriable(JC_ERR_TRANSPORT));
    CHECK(jc_error_is_retriable(JC_ERR_QUEUE_FULL));
    CHECK(!jc_error_is_retriable(JC_ERR_BAD_SIGNATURE));
    CHECK(!jc_error_is_retriable((jc_err_t)-1));
    for (int e = 0; e < JC_ERR__END; e++)
        CHECK_MSG(strcmp(jc_err_name((jc_err_t)e), "JC_ERR_UNKNOWN") != 0, "code %d has a name", e);
    CHECK_EQ_STR(jc_version(), JC_VERSION_STR);
    CHECK_EQ_INT(jc_version_num(), JC_VERSION);
}

static void test_worker_new_errors(void)
{
    char err[256];
    jc_conf_t *c = jc_conf_new();
    /* missing identity: NULL, conf still ours */
    CHECK(jc_worker_new(c, err, sizeof err) == NULL);
    CHECK(strstr(err, "principal") != NULL);
    jc_conf_set(c, "principal", "w1", err, sizeof err);
    jc_conf_set(c, "key.id", "k1", err, sizeof err);
    jc_conf_set(c, "key", "not base64!", err, sizeof err);
    CHECK(jc_worker_new(c, err, sizeof err) == NULL);
    CHECK(strstr(err, "base64") != NULL);
    jc_conf_set(c, "key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", err, sizeof err);
    CHECK(jc_worker_new(c, err, sizeof err) == NULL); /* no bootstrap */
    CHECK(strstr(err, "bootstrap") != NULL);
    jc_conf_set(c, "bootstrap.file", "/nonexistent/bootstrap", err, sizeof err);
    CHECK(jc_worker_new(c, err, sizeof err) == NULL);
    CHECK(strstr(err, "/nonexistent/bootstrap") != NULL);
    jc_conf_set(c, "kafka.bootstrap.servers", "127.0.0.1:1", err, sizeof err);
    jc_conf_set(c, "capabilities", "ok,not ok!", err, sizeof err);
    CHECK(jc_worker_new(c, err, sizeof err) == NULL);
    jc_conf_destroy(c);
}

int main(void)
{
    test_conf();
    test_conf_file();
    test_errors_and_version();
    test_worker_new_errors();
    return check_done("test_sdk_conf");
}
