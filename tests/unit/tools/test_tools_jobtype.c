/* test_tools_jobtype: jobcoord-worker's configuration (job types, keys
 * split from the SDK's) and the argv and environment of a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jobtype.h"
#include "tmpfiles.h"

static char dir[] = "/tmp/jc-jobtype-XXXXXX";

/* What the fake SDK received. */
static char sdk_seen[1024];

static int fake_sdk_set(const char *name, const char *value, void *arg, char *err,
                        size_t err_size)
{
    (void)arg;
    if (strcmp(name, "bogus") == 0) {
        snprintf(err, err_size, "unknown configuration key '%s'", name);
        return -1;
    }
    strncat(sdk_seen, name, sizeof sdk_seen - strlen(sdk_seen) - 1);
    strncat(sdk_seen, "=", sizeof sdk_seen - strlen(sdk_seen) - 1);
    strncat(sdk_seen, value, sizeof sdk_seen - strlen(sdk_seen) - 1);
    strncat(sdk_seen, ";", sizeof sdk_seen - strlen(sdk_seen) - 1);
    return 0;
}

static const jobtype *find(const jobtypes *jt, const char *name)
{
    for (int i = 0; i < jt->n; i++)
        if (strcmp(jt->t[i].name, name) == 0)
            return &jt->t[i];
    return NULL;
}

static void test_keys(void)
{
    jobtypes *jt = calloc(1, sizeof *jt);
    char err[512];
    const jobtype *t;

    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.command", "/bin/echo", err, sizeof err), 0);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.args", "-n,a\\,b,,c\\\\d,\\x", err, sizeof err), 0);
    t = find(jt, "echo");
    CHECK(t != NULL);
    if (!t)
        goto out;
    CHECK_EQ_STR(t->command, "/bin/echo");
    CHECK_EQ_INT(t->n_args, 5);
    CHECK_EQ_STR(t->args[0], "-n");
    CHECK_EQ_STR(t->args[1], "a,b");
    CHECK_EQ_STR(t->args[2], "");
    CHECK_EQ_STR(t->args[3], "c\\d");
    CHECK_EQ_STR(t->args[4], "\\x");
    CHECK_EQ_INT(t->max_args, JT_DEFAULT_MAX_ARGS);
    CHECK_EQ_INT(t->kill_grace_ms, JT_DEFAULT_KILL_GRACE_MS);
    CHECK_EQ_INT(t->result_bytes, JT_DEFAULT_RESULT_BYTES);
    CHECK_EQ_INT(t->timeout_ms, 0);
    /* spaces are kept: what is written is what the program gets */
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.args", "-c, x", err, sizeof err), 0);
    CHECK_EQ_INT(t->n_args, 2);
    CHECK_EQ_STR(t->args[1], " x");
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.args", "", err, sizeof err), 0);
    CHECK_EQ_INT(t->n_args, 0);

    /* a dotted type name is read from the right */
    CHECK_EQ_INT(jobtypes_set(jt, "job.video.hd.command", "/bin/true", err, sizeof err), 0);
    CHECK_EQ_INT(jobtypes_set(jt, "job.video.hd.timeout_ms", "1500", err, sizeof err), 0);
    CHECK_EQ_INT(jobtypes_set(jt, "job.video.hd.env.LANG", "C.UTF-8", err, sizeof err), 0);
    CHECK_EQ_INT(jobtypes_set(jt, "job.video.hd.env.LANG", "C", err, sizeof err), 0);
    CHECK_EQ_INT(jobtypes_set(jt, "job.video.hd.env.http_proxy", "x", err, sizeof err), 0);
    t = find(jt, "video.hd");
    CHECK(t != NULL);
    if (t) {
        CHECK_EQ_INT(t->timeout_ms, 1500);
        CHECK_EQ_INT(t->n_env, 2);
        CHECK_EQ_STR(t->env_names[0], "LANG");
        CHECK_EQ_STR(t->env_values[0], "C");
    }
    CHECK_EQ_INT(jt->n, 2);

    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.retry_exit_codes", "75, 111,3", err, sizeof err), 0);
    t = find(jt, "echo");
    CHECK(jobtype_retry_code(t, 75) && jobtype_retry_code(t, 111) && jobtype_retry_code(t, 3));
    CHECK(!jobtype_retry_code(t, 1) && !jobtype_retry_code(t, 0) && !jobtype_retry_code(t, 300));
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.retry_exit_codes", "0", err, sizeof err), -1);
    CHECK(strstr(err, "retry_exit_codes") != NULL);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.retry_exit_codes", "7,x", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.retry_exit_codes", "256", err, sizeof err), -1);
    CHECK(jobtype_retry_code(t, 75)); /* a refused value changes nothing */

    /* refusals name the key */
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.command", "bin/echo", err, sizeof err), -1);
    CHECK(strstr(err, "absolute") != NULL);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.cwd", "tmp", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.colour", "red", err, sizeof err), -1);
    CHECK(strstr(err, "job.echo.colour") != NULL);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo", "x", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.command", "/bin/echo", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.a b.command", "/bin/echo", err, sizeof err), -1);
    CHECK(strstr(err, "job type name") != NULL);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.max_args", "4097", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.max_args", "-1", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.timeout_ms", "10s", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.result_bytes", "262145", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.env.JOBCOORD_JOB_ID", "x", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.env.1X", "x", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.env.A-B", "x", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.echo.env.", "x", err, sizeof err), -1);
    CHECK_EQ_INT(jt->n, 2); /* no type was added by a refused key */
    {
        char name[128];
        int n_ok = 0;
        for (int i = 0; i < JT_MAX_TYPES + 1; i++) {
            snprintf(name, sizeof name, "job.t%d.command", i);
            if (jobtypes_set(jt, name, "/bin/true", err, sizeof err) == 0)
                n_ok++;
        }
        CHECK_EQ_INT(jt->n, JT_MAX_TYPES);
        CHECK(strstr(err, "job types") != NULL);
    }
out:
    jobtypes_free(jt);
    free(jt);
}

static void test_load_file(void)
{
    jobtypes *jt = calloc(1, sizeof *jt);
    char err[512], big[5000];
    const char *path;

    sdk_seen[0] = '\0';
    path = tmp_write(dir, "w.conf",
                     "# worker\n"
                     "principal = w1\n"
                     "  slots=2  \n"
                     "\n"
                     "job.echo.command = /bin/echo\n"
                     "job.echo.args = -n\n"
                     "job.sh.command = /bin/sh\n"
                     "job.sh.args = -c,exit \"$1\",sh\n"
                     "job.sh.cwd = /tmp\n");
    CHECK_EQ_INT(jobtypes_load_file(jt, path, fake_sdk_set, NULL, err, sizeof err), 0);
    CHECK_EQ_STR(sdk_seen, "principal=w1;slots=2;");
    CHECK_EQ_INT(jt->n, 2);
    CHECK_EQ_STR(find(jt, "sh")->args[1], "exit \"$1\"");
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), 0);
    jobtypes_free(jt);

    path = tmp_write(dir, "w.conf", "principal = w1\nbogus = 1\n");
    CHECK_EQ_INT(jobtypes_load_file(jt, path, fake_sdk_set, NULL, err, sizeof err), -2);
    CHECK(strstr(err, "w.conf:2:") != NULL && strstr(err, "bogus") != NULL);
    jobtypes_free(jt);

    path = tmp_write(dir, "w.conf", "job.x.command = /bin/true\njob.x.max_args = lots\n");
    CHECK_EQ_INT(jobtypes_load_file(jt, path, fake_sdk_set, NULL, err, sizeof err), -2);
    CHECK(strstr(err, "w.conf:2:") != NULL && strstr(err, "job.x.max_args") != NULL);
    jobtypes_free(jt);

    path = tmp_write(dir, "w.conf", "job.x.command\n");
    CHECK_EQ_INT(jobtypes_load_file(jt, path, fake_sdk_set, NULL, err, sizeof err), -2);
    CHECK(strstr(err, "name = value") != NULL);
    jobtypes_free(jt);

    memset(big, 'a', sizeof big - 2);
    big[sizeof big - 2] = '\n';
    big[sizeof big - 1] = '\0';
    path = tmp_write(dir, "w.conf", big);
    CHECK_EQ_INT(jobtypes_load_file(jt, path, fake_sdk_set, NULL, err, sizeof err), -2);
    CHECK(strstr(err, "too long") != NULL);
    jobtypes_free(jt);

    CHECK_EQ_INT(jobtypes_load_file(jt, "/nonexistent/w.conf", fake_sdk_set, NULL, err,
                                    sizeof err),
                 -1);

    /* check: types need a runnable command and an existing directory */
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), -1);
    CHECK(strstr(err, "no job types") != NULL);
    jobtypes_set(jt, "job.x.timeout_ms", "5", err, sizeof err);
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), -1);
    CHECK(strstr(err, "job.x.command is missing") != NULL);
    jobtypes_set(jt, "job.x.command", "/nonexistent/prog", err, sizeof err);
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), -1);
    CHECK(strstr(err, "not an executable") != NULL);
    jobtypes_set(jt, "job.x.command", tmp_write(dir, "not-executable", "x"), err, sizeof err);
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), -1);
    jobtypes_set(jt, "job.x.command", "/bin", err, sizeof err);
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), -1);
    jobtypes_set(jt, "job.x.command", "/bin/true", err, sizeof err);
    jobtypes_set(jt, "job.x.cwd", "/nonexistent", err, sizeof err);
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), -1);
    CHECK(strstr(err, "job.x.cwd") != NULL);
    jobtypes_set(jt, "job.x.cwd", "/tmp", err, sizeof err);
    CHECK_EQ_INT(jobtypes_check(jt, err, sizeof err), 0);
    jobtypes_free(jt);
    free(jt);
}

static int argc_of(char **argv)
{
    int n = 0;
    if (!argv)
        return -1;
    while (argv[n])
        n++;
    return n;
}

static void test_argv(void)
{
    jobtypes *jt = calloc(1, sizeof *jt);
    char err[256], **argv, *big;
    const jobtype *t;
    int bad;

    jobtypes_set(jt, "job.sh.command", "/bin/sh", err, sizeof err);
    jobtypes_set(jt, "job.sh.args", "-c,exit \"$1\",sh", err, sizeof err);
    t = &jt->t[0];

    argv = jobtype_argv(t, "", 0, &bad, err, sizeof err);
    CHECK(argv != NULL);
    CHECK_EQ_INT(argc_of(argv), 4);
    CHECK_EQ_STR(argv[0], "/bin/sh");
    CHECK_EQ_STR(argv[1], "-c");
    CHECK_EQ_STR(argv[3], "sh");
    free(argv);

    /* shell metacharacters are one literal argument */
    argv = jobtype_argv(t, "3; touch /tmp/x", 15, &bad, err, sizeof err);
    CHECK_EQ_INT(argc_of(argv), 5);
    CHECK_EQ_STR(argv[4], "3; touch /tmp/x");
    free(argv);

    /* NUL ends each argument; the last NUL is optional; empty ones count */
    argv = jobtype_argv(t, "a\0b c\0\0d", 8, &bad, err, sizeof err);
    CHECK_EQ_INT(argc_of(argv), 8);
    CHECK_EQ_STR(argv[4], "a");
    CHECK_EQ_STR(argv[5], "b c");
    CHECK_EQ_STR(argv[6], "");
    CHECK_EQ_STR(argv[7], "d");
    free(argv);
    argv = jobtype_argv(t, "a\0b\0", 4, &bad, err, sizeof err);
    CHECK_EQ_INT(argc_of(argv), 6);
    free(argv);
    argv = jobtype_argv(t, "\0", 1, &bad, err, sizeof err);
    CHECK_EQ_INT(argc_of(argv), 5);
    CHECK_EQ_STR(argv[4], "");
    free(argv);
    argv = jobtype_argv(t, "line1\nline2", 11, &bad, err, sizeof err);
    CHECK_EQ_INT(argc_of(argv), 5);
    CHECK_EQ_STR(argv[4], "line1\nline2");
    free(argv);

    /* limits: argument count, argument length */
    big = calloc(1, JT_ARG_MAX_BYTES + 2);
    memset(big, 'x', JT_ARG_MAX_BYTES);
    argv = jobtype_argv(t, big, JT_ARG_MAX_BYTES, &bad, err, sizeof err);
    CHECK(argv != NULL);
    free(argv);
    memset(big, 'x', JT_ARG_MAX_BYTES + 1);
    argv = jobtype_argv(t, big, JT_ARG_MAX_BYTES + 1, &bad, err, sizeof err);
    CHECK(argv == NULL);
    CHECK_EQ_INT(bad, 1);
    CHECK(strstr(err, "argument 1 is longer") != NULL);
    free(big);

    big = calloc(1, JT_DEFAULT_MAX_ARGS + 1); /* each NUL ends one (empty) argument */
    argv = jobtype_argv(t, big, JT_DEFAULT_MAX_ARGS, &bad, err, sizeof err);
    CHECK(argv != NULL); /* 256 empty arguments */
    if (argv)
        CHECK_EQ_INT(argc_of(argv), 4 + JT_DEFAULT_MAX_ARGS);
    free(argv);
    argv = jobtype_argv(t, big, JT_DEFAULT_MAX_ARGS + 1, &bad, err, sizeof err);
    CHECK(argv == NULL);
    CHECK_EQ_INT(bad, 1);
    CHECK(strstr(err, "more than 256 arguments") != NULL);
    free(big);

    /* no options from the payload unless the type allows them */
    argv = jobtype_argv(t, "ok\0-rf", 6, &bad, err, sizeof err);
    CHECK(argv == NULL);
    CHECK_EQ_INT(bad, 1);
    CHECK(strstr(err, "argument 2 starts with '-'") != NULL);
    CHECK(strstr(err, "job.sh.payload_options") != NULL);
    CHECK_EQ_INT(jobtypes_set(jt, "job.sh.payload_options", "maybe", err, sizeof err), -1);
    CHECK_EQ_INT(jobtypes_set(jt, "job.sh.payload_options", "yes", err, sizeof err), 0);
    argv = jobtype_argv(t, "ok\0-rf", 6, &bad, err, sizeof err);
    CHECK(argv != NULL);
    if (argv)
        CHECK_EQ_STR(argv[5], "-rf");
    free(argv);
    argv = jobtype_argv(t, "a-b\0\0", 5, &bad, err, sizeof err); /* '-' inside, empty: fine */
    CHECK(argv != NULL);
    free(argv);
    jobtypes_set(jt, "job.sh.payload_options", "no", err, sizeof err);
    argv = jobtype_argv(t, "a-b\0\0", 5, &bad, err, sizeof err);
    CHECK(argv != NULL);
    free(argv);

    jobtypes_set(jt, "job.sh.max_args", "0", err, sizeof err);
    argv = jobtype_argv(t, "", 0, &bad, err, sizeof err);
    CHECK(argv != NULL);
    free(argv);
    argv = jobtype_argv(t, "a", 1, &bad, err, sizeof err);
    CHECK(argv == NULL);
    jobtypes_free(jt);
    free(jt);
}

static void test_envp(void)
{
    jobtypes *jt = calloc(1, sizeof *jt);
    char err[256], **envp;

    jobtypes_set(jt, "job.e.command", "/usr/bin/env", err, sizeof err);
    envp = jobtype_envp(&jt->t[0], "0b3c9f1e-0000-4000-8000-000000000001", 2);
    CHECK(envp != NULL);
    if (!envp)
        goto out;
    CHECK_EQ_STR(envp[0], "PATH=" JT_DEFAULT_PATH);
    CHECK_EQ_STR(envp[1], "JOBCOORD_JOB_ID=0b3c9f1e-0000-4000-8000-000000000001");
    CHECK_EQ_STR(envp[2], "JOBCOORD_JOB_TYPE=e");
    CHECK_EQ_STR(envp[3], "JOBCOORD_JOB_ATTEMPT=2");
    CHECK(envp[4] == NULL);
    free(envp);

    jobtypes_set(jt, "job.e.env.PATH", "/opt/bin", err, sizeof err);
    jobtypes_set(jt, "job.e.env.LANG", "C.UTF-8", err, sizeof err);
    envp = jobtype_envp(&jt->t[0], "id", 1);
    CHECK(envp != NULL);
    if (!envp)
        goto out;
    CHECK_EQ_STR(envp[0], "PATH=/opt/bin");
    CHECK_EQ_STR(envp[1], "LANG=C.UTF-8");
    CHECK_EQ_STR(envp[2], "JOBCOORD_JOB_ID=id");
    CHECK(envp[5] == NULL);
    free(envp);
out:
    jobtypes_free(jt);
    free(jt);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_keys();
    test_load_file();
    test_argv();
    test_envp();
    unlink(tmp_write(dir, "w.conf", ""));
    unlink(tmp_write(dir, "not-executable", ""));
    rmdir(dir);
    return check_done("test_tools_jobtype");
}
