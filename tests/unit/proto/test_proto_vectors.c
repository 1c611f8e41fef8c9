/*
 * test_proto_vectors.c - checks the encoder and decoder against every
 * signed test vector in schemas/vectors/ (run from the repository root).
 *
 * For each file: rebuild the message from its inputs (this file's own
 * parser of the README's syntax, independent of the generator's
 * formatter), encode and seal it, and compare signed bytes, MAC and
 * envelope byte for byte; then parse the expected envelope, check its MAC
 * with libsodium directly, decode it, and compare with the inputs. An
 * accept vector ("canonical = false") is checked on the decoding side only:
 * its signed bytes use formats wider than the canonical ones.
 *
 * Widths: each vector names the msgpack formats it exists to show
 * ("widths"); a walker of its own finds the formats actually used in the
 * signed bytes and the envelope, every named one must be among them, and
 * together the vectors must use every format PROTOCOL.md 3.1 promises.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "samples.h"
#include "vec_widths.h"

#define VEC_DIR "schemas/vectors"
#define MAX_LINES 256
#define MAX_ALLOCS 64

/* vecfile is one parsed file: its text, split into name/value pairs, and
 * the allocations that the message built from it points into. */
typedef struct vecfile {
    char *text;
    int n;
    const char *names[MAX_LINES];
    const char *values[MAX_LINES];
    void *allocs[MAX_ALLOCS];
    int n_allocs;
} vecfile;

/* keep records an allocation to free with the file. */
static void *keep(vecfile *vf, size_t size)
{
    void *p = calloc(1, size ? size : 1);

    if (p == NULL || vf->n_allocs == MAX_ALLOCS) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    vf->allocs[vf->n_allocs++] = p;
    return p;
}

/* vec_load reads path and splits it into "name = value" lines. */
static int vec_load(const char *path, vecfile *vf)
{
    FILE *f = fopen(path, "rb");
    long size;
    char *line;

    memset(vf, 0, sizeof(*vf));
    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    vf->text = calloc(1, (size_t)size + 1);
    if (vf->text == NULL || fread(vf->text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return -1;
    }
    fclose(f);
    line = vf->text;
    while (line != NULL && *line != '\0') {
        char *nl = strchr(line, '\n');
        char *eq, *end;

        if (nl != NULL)
            *nl = '\0';
        if (nl != NULL && nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        eq = strchr(line, '=');
        if (line[0] != '#' && line[0] != '\0' && eq != NULL && vf->n < MAX_LINES) {
            end = eq;
            while (end > line && end[-1] == ' ')
                end--;
            *end = '\0';
            vf->names[vf->n] = line;
            vf->values[vf->n] = eq[1] == ' ' ? eq + 2 : eq + 1;
            vf->n++;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return 0;
}

/* vec_free frees a file and what was built from it. */
static void vec_free(vecfile *vf)
{
    for (int i = 0; i < vf->n_allocs; i++)
        free(vf->allocs[i]);
    free(vf->text);
}

/* vec_get returns the value of name, or NULL. */
static const char *vec_get(const vecfile *vf, const char *name)
{
    for (int i = 0; i < vf->n; i++) {
        if (strcmp(vf->names[i], name) == 0)
            return vf->values[i];
    }
    return NULL;
}

/* hex_digit returns the value of a lowercase hex digit, or -1. */
static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* unhex decodes n lowercase hex digits of s into out; -1 if malformed. */
static int unhex(const char *s, size_t n, uint8_t *out)
{
    if (n % 2 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* hex_alloc decodes a hex string into a kept buffer. */
static jc_slice hex_alloc(vecfile *vf, const char *s, int *ok)
{
    size_t n = strlen(s);
    uint8_t *p = keep(vf, n / 2);

    if (unhex(s, n, p) != 0)
        *ok = 0;
    return (jc_slice){p, (uint32_t)(n / 2)};
}

/* parse_u64 parses a decimal; clears *ok on anything else. */
static uint64_t parse_u64(const char *s, int *ok)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        *ok = 0;
    return v;
}

/* parse_id parses a UUID or 32 hex digits. */
static void parse_id(const char *s, uint8_t out[JC_ID_LEN], int *ok)
{
    if (strlen(s) == 36 && jc_id_parse(s, out) == 0)
        return;
    if (strlen(s) != 32 || unhex(s, 32, out) != 0)
        *ok = 0;
}

/* parse_bool parses true or false. */
static int parse_bool(const char *s, int *ok)
{
    if (strcmp(s, "true") == 0)
        return 1;
    if (strcmp(s, "false") != 0)
        *ok = 0;
    return 0;
}

/* parse_bin parses hex:... */
static jc_slice parse_bin(vecfile *vf, const char *s, int *ok)
{
    if (strncmp(s, "hex:", 4) != 0) {
        *ok = 0;
        return (jc_slice){NULL, 0};
    }
    return hex_alloc(vf, s + 4, ok);
}

/* count_parts counts the sep-separated parts of s (0 for ""). */
static uint32_t count_parts(const char *s, char sep)
{
    uint32_t n = *s ? 1 : 0;

    for (; *s; s++)
        n += *s == sep;
    return n;
}

/* parse_kvs parses k=v;k=v into a kept array. */
static jc_kv *parse_kvs(vecfile *vf, const char *s, uint32_t *n, int *ok)
{
    jc_kv *kv;
    uint32_t i = 0;

    *n = count_parts(s, ';');
    kv = keep(vf, *n * sizeof(jc_kv));
    while (*s) {
        const char *end = strchr(s, ';'), *eq;

        if (end == NULL)
            end = s + strlen(s);
        eq = memchr(s, '=', (size_t)(end - s));
        if (eq == NULL) {
            *ok = 0;
            break;
        }
        kv[i].key = (jc_slice){(const uint8_t *)s, (uint32_t)(eq - s)};
        kv[i].value = (jc_slice){(const uint8_t *)eq + 1, (uint32_t)(end - eq - 1)};
        i++;
        s = *end ? end + 1 : end;
    }
    return kv;
}

/* set_heartbeat sets one heartbeat body field. */
static int set_heartbeat(vecfile *vf, jc_heartbeat *hb, const char *f, const char *v, int *ok)
{
    if (strcmp(f, "caps") == 0) {
        hb->n_caps = count_parts(v, ',');
        hb->caps = keep(vf, hb->n_caps * sizeof(jc_slice));
        for (uint32_t i = 0; i < hb->n_caps; i++) {
            const char *end = strchr(v, ',');
            size_t len = end ? (size_t)(end - v) : strlen(v);

            hb->caps[i] = (jc_slice){(const uint8_t *)v, (uint32_t)len};
            v += len + (end ? 1 : 0);
        }
    } else if (strcmp(f, "running") == 0) {
        hb->n_running = count_parts(v, ',');
        hb->running = keep(vf, hb->n_running * sizeof(jc_running_job));
        for (uint32_t i = 0; i < hb->n_running; i++) {
            char uuid[37] = "";
            unsigned att = 0;

            if (sscanf(v, "%36[^@]@%u", uuid, &att) != 2 || jc_id_parse(uuid, hb->running[i].job))
                *ok = 0;
            hb->running[i].attempt = att;
            v = strchr(v, ',') ? strchr(v, ',') + 1 : v + strlen(v);
        }
    } else if (strcmp(f, "slots") == 0) {
        hb->slots = (uint32_t)parse_u64(v, ok);
    } else if (strcmp(f, "ver") == 0) {
        hb->version = jc_slice_str(v);
    } else if (strcmp(f, "host") == 0) {
        hb->host = jc_slice_str(v);
    } else if (strcmp(f, "up") == 0) {
        hb->uptime_s = parse_u64(v, ok);
    } else if (strcmp(f, "seq") == 0) {
        hb->seq = parse_u64(v, ok);
    } else if (strcmp(f, "cfgv") == 0) {
        hb->has_config_version = 1;
        hb->config_version = parse_u64(v, ok);
    } else if (strcmp(f, "drain") == 0) {
        hb->draining = parse_bool(v, ok);
    } else {
        return 0;
    }
    return 1;
}

/* set_body sets one body field of m from its text; returns 0 for a field
 * the type does not have. */
static int set_body(vecfile *vf, jc_msg *m, const char *f, const char *v, int *ok)
{
    jc_job_submit *s = &m->u.submit;
    jc_job_event *e = &m->u.event;
    jc_command *c = &m->u.cmd;
    jc_job_update *u = &m->u.update;
    jc_worker_event_body *w = &m->u.wevent;
    jc_job_refusal *r = &m->u.refusal;
    int known = 1;

#define IS(name) (strcmp(f, name) == 0)
    switch (m->type) {
    case JC_MSG_HEARTBEAT: known = set_heartbeat(vf, &m->u.hb, f, v, ok); break;
    case JC_MSG_JOB_SUBMIT:
        if (IS("job"))
            parse_id(v, s->job, ok);
        else if (IS("type"))
            s->type = jc_slice_str(v);
        else if (IS("payload"))
            s->payload = parse_bin(vf, v, ok);
        else if (IS("prio"))
            s->priority =
                (int32_t)(v[0] == '-' ? -(int64_t)parse_u64(v + 1, ok) : (int64_t)parse_u64(v, ok));
        else if (IS("att"))
            s->max_attempts = (uint32_t)parse_u64(v, ok);
        else if (IS("after"))
            s->run_after_ms = parse_u64(v, ok);
        else if (IS("timeout"))
            s->timeout_ms = (uint32_t)parse_u64(v, ok);
        else if (IS("ikey"))
            s->ikey = jc_slice_str(v);
        else
            known = 0;
        break;
    case JC_MSG_JOB_CANCEL:
        if (IS("job"))
            parse_id(v, m->u.cancel.job, ok);
        else if (IS("reason"))
            m->u.cancel.reason = jc_slice_str(v);
        else
            known = 0;
        break;
    case JC_MSG_JOB_EVENT:
        if (IS("job"))
            parse_id(v, e->job, ok);
        else if (IS("att"))
            e->attempt = (uint32_t)parse_u64(v, ok);
        else if (IS("kind"))
            e->kind = jc_job_event_kind_parse((const uint8_t *)v, strlen(v));
        else if (IS("pct"))
            e->progress = (uint32_t)parse_u64(v, ok);
        else if (IS("text"))
            e->text = jc_slice_str(v);
        else if (IS("stream"))
            e->stream = jc_slice_str(v);
        else if (IS("result"))
            e->result = parse_bin(vf, v, ok);
        else if (IS("retry"))
            e->retryable = parse_bool(v, ok);
        else if (IS("cmd"))
            parse_id(v, e->command, ok);
        else
            known = 0;
        break;
    case JC_MSG_COMMAND:
        if (IS("cmd"))
            parse_id(v, c->command, ok);
        else if (IS("kind"))
            c->kind = jc_command_kind_parse((const uint8_t *)v, strlen(v));
        else if (IS("worker"))
            c->worker = jc_slice_str(v);
        else if (IS("job"))
            parse_id(v, c->job, ok);
        else if (IS("att"))
            c->attempt = (uint32_t)parse_u64(v, ok);
        else if (IS("type"))
            c->type = jc_slice_str(v);
        else if (IS("payload"))
            c->payload = parse_bin(vf, v, ok);
        else if (IS("timeout"))
            c->timeout_ms = (uint32_t)parse_u64(v, ok);
        else if (IS("reason"))
            c->reason = jc_slice_str(v);
        else if (IS("cfgv"))
            c->config_version = parse_u64(v, ok);
        else if (IS("settings"))
            c->settings = parse_kvs(vf, v, &c->n_settings, ok);
        else
            known = 0;
        break;
    case JC_MSG_COMMAND_ACK:
        if (IS("cmd"))
            parse_id(v, m->u.ack.command, ok);
        else if (IS("ok"))
            m->u.ack.ok = parse_bool(v, ok);
        else if (IS("err"))
            m->u.ack.error = jc_slice_str(v);
        else
            known = 0;
        break;
    case JC_MSG_JOB_UPDATE:
        if (IS("job"))
            parse_id(v, u->job, ok);
        else if (IS("state"))
            u->state = jc_slice_str(v);
        else if (IS("att"))
            u->attempt = (uint32_t)parse_u64(v, ok);
        else if (IS("result"))
            u->result = parse_bin(vf, v, ok);
        else if (IS("err"))
            u->error = jc_slice_str(v);
        else if (IS("ikey"))
            u->ikey = jc_slice_str(v);
        else if (IS("reason"))
            u->reason = jc_slice_str(v);
        else
            known = 0;
        break;
    case JC_MSG_WORKER_EVENT:
        if (IS("level"))
            w->level = jc_slice_str(v);
        else if (IS("kind"))
            w->kind = jc_slice_str(v);
        else if (IS("text"))
            w->text = jc_slice_str(v);
        else if (IS("meta"))
            w->meta = parse_kvs(vf, v, &w->n_meta, ok);
        else
            known = 0;
        break;
    case JC_MSG_JOB_REFUSAL:
        if (IS("job"))
            parse_id(v, r->job, ok);
        else if (IS("req"))
            parse_id(v, r->request, ok);
        else if (IS("of"))
            r->of = jc_slice_str(v);
        else if (IS("reason"))
            r->reason = jc_slice_str(v);
        else if (IS("text"))
            r->text = jc_slice_str(v);
        else
            known = 0;
        break;
    default: known = 0; break;
    }
#undef IS
    return known;
}

/* build_msg rebuilds the message and key from the inputs of vf. */
static int build_msg(vecfile *vf, jc_msg *m, uint8_t key[JC_KEY_LEN], const char *name)
{
    const char *type = vec_get(vf, "type"), *p = vec_get(vf, "principal");
    const char *key_hex = vec_get(vf, "key"), *id = vec_get(vf, "id"), *ts = vec_get(vf, "ts");
    int ok = 1;

    memset(m, 0, sizeof(*m));
    if (!type || !p || !key_hex || !id || !ts || !vec_get(vf, "key_id")) {
        fprintf(stderr, "%s: missing input\n", name);
        return 0;
    }
    m->type = jc_msg_type_parse((const uint8_t *)type, strlen(type));
    m->principal = jc_slice_str(p);
    if (strlen(key_hex) != 2 * JC_KEY_LEN || unhex(key_hex, 2 * JC_KEY_LEN, key) != 0)
        ok = 0;
    parse_id(id, m->id, &ok);
    m->ts_ms = parse_u64(ts, &ok);
    /* the protocol version, the envelope's "v": absent means 1 */
    m->version = vec_get(vf, "version") ? (uint32_t)parse_u64(vec_get(vf, "version"), &ok) : 1;
    if (m->type == JC_MSG_JOB_SUBMIT)
        m->u.submit.max_attempts = 3; /* the default when "att" is absent */
    for (int i = 0; i < vf->n; i++) {
        const char *field = vf->names[i] + 5;

        if (strncmp(vf->names[i], "body.", 5) != 0)
            continue;
        /* Presence flags of optional fields the struct marks with has_. */
        if (m->type == JC_MSG_JOB_SUBMIT && strcmp(field, "after") == 0)
            m->u.submit.has_run_after = 1;
        if (m->type == JC_MSG_JOB_SUBMIT && strcmp(field, "timeout") == 0)
            m->u.submit.has_timeout = 1;
        if (m->type == JC_MSG_JOB_EVENT && strcmp(field, "pct") == 0)
            m->u.event.has_progress = 1;
        if (m->type == JC_MSG_JOB_EVENT && strcmp(field, "cmd") == 0)
            m->u.event.has_command = 1;
        if (!set_body(vf, m, field, vf->values[i], &ok)) {
            fprintf(stderr, "%s: unknown input %s\n", name, vf->names[i]);
            ok = 0;
        }
    }
    return ok && m->type != JC_MSG_NONE;
}

/* same_hex compares bytes with an expected hex string. */
static int same_hex(const void *p, size_t n, const char *hex)
{
    char *got = malloc(2 * n + 1);
    int same;

    sodium_bin2hex(got, 2 * n + 1, p, n);
    same = hex != NULL && strcmp(got, hex) == 0;
    free(got);
    return same;
}

/* seen records which types and kinds the vectors cover. */
static int seen_type[JC_MSG__COUNT], seen_event[JC_EV__COUNT], seen_cmd[JC_CMD__COUNT];
static int seen_version2; /* a vector of protocol version 2 was checked */

/* check_vector runs all checks on one file. */
static void check_vector(const char *path, const char *name)
{
    vecfile vf;
    jc_msg m, dec;
    jc_envelope env;
    uint8_t key[JC_KEY_LEN], mac[JC_MAC_LEN];
    msgpack_sbuffer sig, envbuf;
    jc_slice kid, expect_env;
    char errstr[256] = "", why[128] = "";
    int ok = 1, canonical;

    msgpack_sbuffer_init(&sig);
    msgpack_sbuffer_init(&envbuf);
    CHECK_MSG(vec_load(path, &vf) == 0, "%s: cannot read", name);
    CHECK_MSG(build_msg(&vf, &m, key, name), "%s: bad inputs", name);
    kid = jc_slice_str(vec_get(&vf, "key_id"));
    canonical = !(vec_get(&vf, "canonical") && strcmp(vec_get(&vf, "canonical"), "false") == 0);
    seen_type[m.type < JC_MSG__COUNT ? m.type : 0] = 1;
    if (m.type == JC_MSG_JOB_EVENT && m.u.event.kind < JC_EV__COUNT)
        seen_event[m.u.event.kind] = 1;
    if (m.type == JC_MSG_COMMAND && m.u.cmd.kind < JC_CMD__COUNT)
        seen_cmd[m.u.cmd.kind] = 1;

    /* Encoder: signed bytes, MAC, envelope, byte for byte. An accept
     * vector's bytes are not canonical: the encoder must produce other
     * (narrower) bytes from the same inputs. */
    CHECK_MSG(jc_msg_encode_signed(&m, &sig, errstr, sizeof(errstr)) == JC_OK, "%s: encode: %s",
              name, errstr);
    if (canonical) {
        CHECK_MSG(same_hex(sig.data, sig.size, vec_get(&vf, "signed")), "%s: signed bytes differ",
                  name);
        crypto_auth_hmacsha256(mac, (const uint8_t *)sig.data, sig.size, key);
        CHECK_MSG(same_hex(mac, sizeof(mac), vec_get(&vf, "mac")), "%s: mac differs", name);
        CHECK_MSG(jc_msg_seal(&m, &kid, key, &envbuf, errstr, sizeof(errstr)) == JC_OK,
                  "%s: seal: %s", name, errstr);
        CHECK_MSG(same_hex(envbuf.data, envbuf.size, vec_get(&vf, "envelope")),
                  "%s: envelope differs", name);
    } else {
        CHECK_MSG(!same_hex(sig.data, sig.size, vec_get(&vf, "signed")),
                  "%s: says canonical = false but is canonical", name);
    }

    /* Decoder: the expected envelope, checked independently of the encoder. */
    expect_env = hex_alloc(&vf, vec_get(&vf, "envelope") ? vec_get(&vf, "envelope") : "", &ok);
    CHECK(ok);
    CHECK_MSG(jc_envelope_parse(expect_env.p, expect_env.n, 0, &env, errstr, sizeof(errstr)) ==
                  JC_OK,
              "%s: parse: %s", name, errstr);
    CHECK_MSG(env.version == m.version, "%s: envelope version %u, inputs say %u", name,
              (unsigned)env.version, (unsigned)m.version);
    if (m.version > 1)
        seen_version2 = 1;
    CHECK(jc_slice_eq(env.principal, vec_get(&vf, "principal")));
    CHECK(jc_slice_eq(env.key_id, vec_get(&vf, "key_id")));
    CHECK(same_hex(env.signed_bytes.p, env.signed_bytes.n, vec_get(&vf, "signed")));
    if (env.mac.n == JC_MAC_LEN) {
        crypto_auth_hmacsha256(mac, env.signed_bytes.p, env.signed_bytes.n, key);
        CHECK_MSG(sodium_memcmp(mac, env.mac.p, JC_MAC_LEN) == 0, "%s: MAC does not verify", name);
        CHECK(same_hex(env.mac.p, env.mac.n, vec_get(&vf, "mac")));
    }
    CHECK_EQ_INT(jc_envelope_verify(&env, key), JC_OK);
    CHECK_EQ_INT(check_widths(name, vec_get(&vf, "widths"), env.signed_bytes, expect_env), 0);
    CHECK_MSG(jc_msg_decode(&env, &dec, errstr, sizeof(errstr)) == JC_OK, "%s: decode: %s", name,
              errstr);
    CHECK_MSG(msg_equal(&m, &dec, why, sizeof(why)), "%s: decoded %s", name, why);
    jc_msg_release(&dec);

    msgpack_sbuffer_destroy(&sig);
    msgpack_sbuffer_destroy(&envbuf);
    vec_free(&vf);
}

/* by_name orders file names. */
static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    DIR *d = opendir(VEC_DIR);
    char *names[256];
    int n = 0;
    struct dirent *de;

    if (sodium_init() < 0)
        return 1;
    CHECK_MSG(d != NULL, "cannot open %s (run from the repository root)", VEC_DIR);
    while (d != NULL && n < 256) {
        size_t len;

        de = readdir(d);
        if (de == NULL)
            break;
        len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".vec") == 0)
            names[n++] = strdup(de->d_name);
    }
    if (d != NULL)
        closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), by_name);
    for (int i = 0; i < n; i++) {
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", VEC_DIR, names[i]);
        check_vector(path, names[i]);
        free(names[i]);
    }
    CHECK_MSG(n >= 20, "only %d vectors", n);
    for (int t = 1; t < JC_MSG__COUNT; t++)
        CHECK_MSG(seen_type[t], "no vector of type %s", jc_msg_type_name((jc_msg_type)t));
    for (int k = 1; k < JC_EV__COUNT; k++)
        CHECK_MSG(seen_event[k], "no vector of event kind %s",
                  jc_job_event_kind_name((jc_job_event_kind)k));
    for (int k = 1; k < JC_CMD__COUNT; k++)
        CHECK_MSG(seen_cmd[k], "no vector of command kind %s",
                  jc_command_kind_name((jc_command_kind)k));
    CHECK_EQ_INT(vec_widths_missing(), 0);
    CHECK_MSG(seen_version2, "no vector of protocol version 2");
    printf("test_proto_vectors: %d vector files\n", n);
    return check_done("test_proto_vectors");
}
