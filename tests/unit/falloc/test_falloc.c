/*
 * test_falloc.c - runs the out-of-memory paths of the protocol codec, the
 * JSON reader, the JSON writer's rows (json_out.c, what the status API
 * builds its answers from), the JWS framing and the config loader, which no other test
 * reaches. For each operation it first runs it with no failure to
 * count its allocations A, then for n = 1..A runs it again with the nth
 * allocation failing (falloc.c) and checks that it ends in a clean error
 * (JC_ERR_NOMEM for the codec, -1 with a message for the others) or in
 * the very result of the run without failure, never crashes, and leaves no
 * block live once the caller's own cleanup is done.
 *
 * It replaces malloc for the whole process, which AddressSanitizer's
 * runtime forbids: it is labelled nosan, not built with ASAN, and runs in
 * the release build only
 *   ctest --test-dir build -R '^test_falloc$' --output-on-failure
 * Run from the repository root (it reads the .vec files of schemas/vectors).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <sodium.h>

#include "check.h"
#include "falloc.h"
#include "samples.h"
#include "tmpfiles.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json_out.h"
#include "jcproto/json.h"
#include "jcproto/jwt.h"

#define VEC_DIR "schemas/vectors"
#define MAX_VECS 128

/* An operation's run: 0 when it succeeded with the expected result, 1 for
 * a clean error, -1 for anything else (wrong result, wrong error). */
typedef int (*op_fn)(void *ctx);

static long total_points, total_spared;

/* run_point runs op with its nth allocation failing, in a child process
 * so that a crash is reported instead of ending the test: 0 when it ended
 * well, else a reason. */
static const char *run_point(op_fn op, void *ctx, long n)
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        long base = falloc_live();
        int rc;

        falloc_arm(n);
        rc = op(ctx);
        falloc_disarm();
        _exit(!falloc_fired() ? 72 : rc == -1 ? 73 : falloc_live() != base ? 74 : 0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return "cannot fork";
    if (WIFSIGNALED(status))
        return strsignal(WTERMSIG(status));
    switch (WEXITSTATUS(status)) {
    case 0: return NULL;
    case 72: return "the allocation was never asked for";
    case 73: return "a wrong result or error";
    case 74: return "blocks leaked";
    default: return "the process exited";
    }
}

/* exercise runs op with no failure, then with each of its allocations
 * failing in turn, and checks result and live blocks each time. */
static void exercise(const char *name, op_fn op, void *ctx)
{
    long base, a, spared, bad = 0;
    int rc;

    CHECK_MSG(op(ctx) == 0, "%s: fails without an injected failure", name); /* warms up */
    base = falloc_live();
    falloc_arm(0);
    rc = op(ctx);
    a = falloc_disarm();
    spared = falloc_spared();
    CHECK_MSG(rc == 0, "%s: fails without an injected failure", name);
    CHECK_MSG(falloc_live() == base, "%s: leaks %ld blocks without a failure", name,
              falloc_live() - base);
    for (long n = 1; n <= a; n++) {
        const char *why = run_point(op, ctx, n);

        CHECK_MSG(why == NULL, "%s: allocation %ld of %ld failed: %s", name, n, a, why);
        bad += why != NULL;
    }
    total_points += a;
    total_spared += spared;
    printf("%-40s %3ld out-of-memory paths, %ld wrong", name, a, bad);
    if (spared)
        printf(" (%ld more in a spared library)", spared);
    printf("\n");
}

/* --- the codec, over every vector -------------------------------------- */

typedef struct vec {
    char name[96];
    uint8_t *env_bytes;
    size_t env_len;
    uint8_t key[JC_KEY_LEN];
    char key_id[80];
    jc_envelope env; /* the reference decoding, without failure */
    jc_msg msg;
    msgpack_sbuffer sealed; /* the reference sealing of msg */
} vec;

static vec vecs[MAX_VECS];

/* read_line returns the value of "name = value" in text, copied into out. */
static int read_line(const char *text, const char *name, char *out, size_t out_size)
{
    size_t n = strlen(name);

    for (const char *l = text; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, n) == 0 && strncmp(l + n, " = ", 3) == 0) {
            size_t len = strcspn(l + n + 3, "\r\n");

            if (len >= out_size)
                return -1;
            memcpy(out, l + n + 3, len);
            out[len] = '\0';
            return 0;
        }
    }
    return -1;
}

/* vec_load reads one vector file: its envelope, key and key id. */
static int vec_load(vec *v, const char *dir, const char *name)
{
    char path[512], hex[2 * JC_KEY_LEN + 1];
    static char text[1 << 20], envhex[1 << 19];
    FILE *f;
    size_t n;

    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (read_line(text, "envelope", envhex, sizeof envhex) != 0 ||
        read_line(text, "key", hex, sizeof hex) != 0 ||
        read_line(text, "key_id", v->key_id, sizeof v->key_id) != 0)
        return -1;
    v->env_len = strlen(envhex) / 2;
    v->env_bytes = malloc(v->env_len ? v->env_len : 1);
    if (sodium_hex2bin(v->env_bytes, v->env_len, envhex, strlen(envhex), NULL, &n, NULL) != 0 ||
        n != v->env_len ||
        sodium_hex2bin(v->key, sizeof v->key, hex, strlen(hex), NULL, &n, NULL) != 0 ||
        n != JC_KEY_LEN)
        return -1;
    return 0;
}

/* op_decode parses, verifies and decodes a vector's envelope. */
static int op_decode(void *ctx)
{
    vec *v = ctx;
    jc_envelope env;
    jc_msg m;
    char err[256] = "", why[128] = "";
    jc_err_t e;
    int rc;

    e = jc_envelope_parse(v->env_bytes, v->env_len, 0, &env, err, sizeof err);
    if (e != JC_OK)
        return e == JC_ERR_NOMEM && err[0] ? 1 : -1;
    if (jc_envelope_verify(&env, v->key) != JC_OK)
        return -1;
    e = jc_msg_decode(&env, &m, err, sizeof err);
    if (e != JC_OK)
        return e == JC_ERR_NOMEM && err[0] && m.zone_ == NULL ? 1 : -1;
    rc = msg_equal(&m, &v->msg, why, sizeof why) ? 0 : -1;
    jc_msg_release(&m);
    return rc;
}

/* op_seal encodes, signs and frames a vector's message. */
static int op_seal(void *ctx)
{
    vec *v = ctx;
    msgpack_sbuffer out;
    jc_slice kid = jc_slice_str(v->key_id);
    char err[256] = "";
    jc_err_t e;
    int rc;

    msgpack_sbuffer_init(&out);
    e = jc_msg_seal(&v->msg, &kid, v->key, &out, err, sizeof err);
    if (e != JC_OK)
        rc = e == JC_ERR_NOMEM && err[0] && out.size == 0 ? 1 : -1;
    else
        rc = out.size == v->sealed.size && memcmp(out.data, v->sealed.data, out.size) == 0 ? 0
                                                                                           : -1;
    msgpack_sbuffer_destroy(&out);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* codec_case takes the reference decoding and sealing of v, then runs
 * both operations with each of their allocations failing. */
static void codec_case(vec *v)
{
    jc_slice kid = jc_slice_str(v->key_id);
    char err[256] = "", label[128];

    CHECK_MSG(jc_envelope_parse(v->env_bytes, v->env_len, 0, &v->env, err, sizeof err) == JC_OK &&
                  jc_msg_decode(&v->env, &v->msg, err, sizeof err) == JC_OK,
              "%s: %s", v->name, err);
    msgpack_sbuffer_init(&v->sealed);
    CHECK_MSG(jc_msg_seal(&v->msg, &kid, v->key, &v->sealed, err, sizeof err) == JC_OK,
              "%s: seal: %s", v->name, err);
    if (check_failures_)
        return;
    snprintf(label, sizeof label, "decode %s", v->name);
    exercise(label, op_decode, v);
    snprintf(label, sizeof label, "seal %s", v->name);
    exercise(label, op_seal, v);
}

/* large_case makes a vector of m, sealed with the samples' key. */
static void large_case(vec *v, const char *name, const jc_msg *m)
{
    msgpack_sbuffer sb;

    msgpack_sbuffer_init(&sb);
    CHECK_MSG(seal_sample(m, &sb) == JC_OK, "%s: cannot seal", name);
    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(v->key_id, sizeof v->key_id, "%s", SAMPLE_KEY_ID);
    memcpy(v->key, sample_key, JC_KEY_LEN);
    v->env_len = sb.size;
    v->env_bytes = (uint8_t *)sb.data; /* freed with the vector */
    if (!check_failures_)
        codec_case(v);
}

/* sample_of fills m with the first sample of type t that carries optional
 * fields. */
static void sample_of(jc_msg_type t, jc_msg *m)
{
    for (int i = 0; i < sample_count(); i++) {
        sample_get(i, m);
        if (m->type == t && !sample_minimal(i))
            return;
    }
    CHECK_MSG(0, "no sample of type %s", jc_msg_type_name(t));
}

/* test_large runs messages at the protocol's bounds, whose decoding needs
 * more than the first chunk of msgpack-c's zone and whose encoding grows
 * the buffer many times. */
static int test_large(vec *vs)
{
    static jc_slice caps[JC_MAX_CAPS];
    static jc_running_job running[JC_MAX_RUNNING];
    static jc_kv settings[JC_MAX_SETTINGS];
    static char names[JC_MAX_SETTINGS][16];
    static uint8_t payload[JC_MAX_PAYLOAD_BYTES];
    jc_msg m;

    for (int i = 0; i < JC_MAX_SETTINGS; i++) {
        snprintf(names[i], sizeof names[i], "cap.%02d", i);
        caps[i] = jc_slice_str(names[i]);
        settings[i].key = caps[i];
        settings[i].value = jc_slice_str("a value of some length");
    }
    for (int i = 0; i < JC_MAX_RUNNING; i++) {
        memset(running[i].job, 0, JC_ID_LEN);
        memcpy(running[i].job, &i, sizeof i);
        running[i].attempt = (uint32_t)i % 7 + 1;
    }
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31);
    sample_of(JC_MSG_HEARTBEAT, &m);
    m.u.hb.caps = caps;
    m.u.hb.n_caps = JC_MAX_CAPS;
    m.u.hb.running = running;
    m.u.hb.n_running = JC_MAX_RUNNING;
    large_case(&vs[0], "large heartbeat", &m);
    sample_of(JC_MSG_COMMAND, &m);
    for (int i = 0; i < sample_count() && (m.u.cmd.kind != JC_CMD_CONFIG); i++)
        sample_get(i, &m);
    CHECK(m.type == JC_MSG_COMMAND && m.u.cmd.kind == JC_CMD_CONFIG);
    m.u.cmd.settings = settings;
    m.u.cmd.n_settings = JC_MAX_SETTINGS;
    large_case(&vs[1], "large config command", &m);
    sample_of(JC_MSG_JOB_SUBMIT, &m);
    m.u.submit.payload = (jc_slice){payload, sizeof payload};
    large_case(&vs[2], "large job submit", &m);
    return 3;
}

static void test_codec(void)
{
    DIR *d = opendir(VEC_DIR);
    struct dirent *de;
    char *names[MAX_VECS];
    int n = 0;

    CHECK_MSG(d != NULL, "cannot open %s (run from the repository root)", VEC_DIR);
    while (d != NULL && n < MAX_VECS - 3 && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (len > 4 && strcmp(de->d_name + len - 4, ".vec") == 0)
            names[n++] = strdup(de->d_name);
    }
    if (d != NULL)
        closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    CHECK_MSG(n >= 20, "only %d vectors", n);
    for (int i = 0; i < n; i++) {
        CHECK_MSG(vec_load(&vecs[i], VEC_DIR, names[i]) == 0, "%s: unreadable", names[i]);
        free(names[i]);
        if (!check_failures_)
            codec_case(&vecs[i]);
    }
    if (!check_failures_)
        n += test_large(&vecs[n]);
    for (int i = 0; i < n; i++) {
        jc_msg_release(&vecs[i].msg);
        msgpack_sbuffer_destroy(&vecs[i].sealed);
        free(vecs[i].env_bytes);
    }
}

/* --- the JSON reader and the JWS framing ------------------------------- */

static const char *json_doc =
    "{\"iss\":\"w-1\",\"sub\":\"w-1\",\"aud\":[\"http://c:8080/v1/token\",\"x\"],"
    "\"jti\":\"a\\u00e9\\n\",\"iat\":1700000000,\"exp\":1700000060,\"n\":null,\"t\":true,"
    "\"o\":{\"f\":-2.5e+3}}";

/* op_json parses a document and reads members from it. */
static int op_json(void *ctx)
{
    json_t *doc;
    char err[128] = "", jti[16];
    int64_t exp = 0;
    int rc = 0;
    (void)ctx;

    doc = jc_json_parse(json_doc, strlen(json_doc), err, sizeof err);
    if (!doc)
        return err[0] ? 1 : -1;
    if (jc_json_member_string(doc, "jti", jti, sizeof jti) != 4 ||
        memcmp(jti, "a\xc3\xa9\n", 4) != 0 ||
        jc_json_int64(json_object_get(doc, "exp"), &exp) != 0 || exp != 1700000060)
        rc = -1;
    json_decref(doc);
    return rc;
}

typedef struct jws_ctx {
    uint8_t hkey[32], pk[32], sk[64];
} jws_ctx;

/* op_jws signs a token with HS256 and one with EdDSA, parses and verifies
 * both. */
static int op_jws(void *ctx)
{
    jws_ctx *k = ctx;
    static jc_jws j; /* large: not on the stack */
    static char tok[2048];
    const char *claims = "{\"iss\":\"w-1\",\"sub\":\"w-1\",\"jti\":\"x\",\"exp\":1700000060}";
    char err[160] = "";
    int rc;

    if (jc_jws_sign(JC_JWS_HS256, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", claims, k->hkey, tok,
                    sizeof tok) <= 0)
        return 1;
    if (jc_jws_parse(tok, strlen(tok), &j, err, sizeof err) != 0)
        return err[0] ? 1 : -1;
    rc = jc_jws_verify_hs256(&j, k->hkey) != 0 || strcmp(j.kid, "k1") != 0 ? -1 : 0;
    jc_jws_free(&j);
    if (rc)
        return rc;
    if (jc_jws_sign(JC_JWS_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"e1\"}", claims, k->sk, tok,
                    sizeof tok) <= 0)
        return 1;
    if (jc_jws_parse(tok, strlen(tok), &j, err, sizeof err) != 0)
        return err[0] ? 1 : -1;
    rc = jc_jws_verify_eddsa(&j, k->pk) == 0 && strcmp(j.alg, "EdDSA") == 0 ? 0 : -1;
    jc_jws_free(&j);
    return rc;
}

static void test_json_jws(void)
{
    static jws_ctx k;

    randombytes_buf(k.hkey, sizeof k.hkey);
    crypto_sign_keypair(k.pk, k.sk);
    exercise("json parse and read", op_json, NULL);
    exercise("jws sign, parse, verify", op_jws, &k);
}

/* --- the JSON writer: PostgreSQL rows as a jansson document -------------- */

static const char *const rows_text[2][5] = {
    {"j-1", "42", "t", "{a,\"b \\\"c\\\" d\",NULL,\"\xc3\xa9\"}", "-2.5"},
    {"line\n\"two\"", NULL, "f", "{}", NULL},
};
static const jc_json_field rows_fields[] = {
    {"id", 's'}, {"n", 'n'}, {"ok", 'b'}, {"caps", 'a'}, {"x", 'n'}};
static const char *rows_expected =
    "{\"rows\":[{\"id\":\"j-1\",\"n\":42,\"ok\":true,\"caps\":[\"a\",\"b \\\"c\\\" d\",null,"
    "\"\xc3\xa9\"],\"x\":-2.5},{\"id\":\"line\\n\\\"two\\\"\",\"n\":null,\"ok\":false,"
    "\"caps\":[],\"x\":null}],\"message\":\"bad ?? byte\"}";

/* rows_result makes the PGresult the status API would read (no server
 * needed: libpq builds results by hand too). */
static PGresult *rows_result(void)
{
    PGresAttDesc att[5];
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

    memset(att, 0, sizeof att);
    for (int c = 0; c < 5; c++) {
        att[c].name = (char *)rows_fields[c].name;
        att[c].typlen = -1;
    }
    if (!res || !PQsetResultAttrs(res, 5, att))
        return NULL;
    for (int row = 0; row < 2; row++)
        for (int c = 0; c < 5; c++)
            if (!PQsetvalue(res, row, c, (char *)rows_text[row][c],
                            rows_text[row][c] ? (int)strlen(rows_text[row][c]) : -1))
                return NULL;
    return res;
}

/* op_json_rows builds a document from rows of every kind and a text that
 * is not UTF-8, as http_status.c and the error bodies do, and writes it. */
static int op_json_rows(void *ctx)
{
    const PGresult *res = ctx;
    json_t *doc = json_object(), *rows = json_array();
    int ok = json_object_set_new(doc, "rows", rows) == 0;
    jc_buf b;
    int rc;

    for (int row = 0; ok && row < PQntuples(res); row++)
        ok = json_array_append_new(rows, jc_json_pg_object(res, row, 0, rows_fields, 5)) == 0;
    ok = ok && json_object_set_new(doc, "message", jc_json_text("bad \xff\xc3 byte")) == 0;
    if (!ok) {
        json_decref(doc);
        return 1;
    }
    jc_buf_init(&b, 1 << 16);
    if (jc_json_dump(&b, doc) != 0)
        rc = 1;
    else
        rc = strcmp(jc_buf_str(&b), rows_expected) == 0 ? 0 : -1;
    if (rc == -1)
        fprintf(stderr, "json rows: got %s\n", jc_buf_str(&b));
    jc_buf_free(&b);
    return rc;
}

static void test_json_rows(void)
{
    PGresult *res = rows_result();

    CHECK_MSG(res != NULL, "cannot make a PGresult");
    if (!res)
        return;
    exercise("json rows to a document", op_json_rows, res);
    PQclear(res);
}

/* --- the config loader ------------------------------------------------- */

static char tmpdir[] = "/tmp/jc-test-falloc-XXXXXX";

/* op_config loads a file (with one JOBCOORD_* variable over it) and three
 * --set values, as the daemon's start does, then frees it. */
static int op_config(void *ctx)
{
    const char *path = ctx;
    jc_config cfg;
    char err[512] = "";
    int rc = 0;

    if (jc_config_load(&cfg, path, err, sizeof err) != 0)
        return err[0] && cfg.log_level == NULL && cfg.db_conninfo == NULL ? 1 : -1;
    if (jc_config_set(&cfg, "kafka.brokers", "b1:9092,b2:9092", err, sizeof err) != 0 ||
        jc_config_set(&cfg, "ingest.batch_max_ms", "25", err, sizeof err) != 0 ||
        jc_config_set(&cfg, "log.level", "debug", err, sizeof err) != 0)
        rc = strstr(err, "out of memory") ? 1 : -1;
    else if (strcmp(cfg.db_conninfo, "dbname=fromfile") != 0 || cfg.janitor_interval_ms != 700 ||
             strcmp(cfg.log_level, "debug") != 0 || strcmp(cfg.kafka_brokers, "b1:9092,b2:9092") ||
             cfg.batch_max_ms != 25 || strcmp(cfg.topic_prefix, "jc-test.") != 0 ||
             strcmp(cfg.log_format, "text") != 0)
        rc = -1;
    jc_config_free(&cfg);
    return rc;
}

static void test_config(void)
{
    const char *path;

    CHECK(mkdtemp(tmpdir) != NULL);
    path = tmp_write(tmpdir, "f.conf",
                     "# a file like an operator's\n"
                     "database = { conninfo = \"dbname=fromfile\"; };\n"
                     "janitor = { interval_ms = 500; };\n"
                     "kafka = { topic_prefix = \"jc-test.\"; };\n"
                     "log = { level = \"warn\"; };\n");
    setenv("JOBCOORD_JANITOR_INTERVAL_MS", "700", 1);
    /* libconfig 1.5 uses what its own allocations return unchecked
     * (config_init, the parser) or exits from its scanner: those are not
     * ours to test, the allocations of the loader around it are. */
    falloc_spare("libconfig.so");
    exercise("config load, environment, --set", op_config, (void *)path);
    falloc_spare(NULL);
    unsetenv("JOBCOORD_JANITOR_INTERVAL_MS");
    unlink(path);
    rmdir(tmpdir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_codec();
    test_json_jws();
    test_json_rows();
    test_config();
    printf("test_falloc: %ld out-of-memory paths run, %ld in libconfig left out\n", total_points,
           total_spared);
    return check_done("test_falloc");
}
