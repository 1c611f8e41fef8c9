/*
 * admin_credentials.c - `jobcoord-admin user set-password|unlock|totp`: how
 * admin and reader principals log in to the HTTP token service, through the
 * data layer of passwords.c.
 *
 * A password never appears on the command line (where ps and shell history
 * would keep it): it is read from stdin, one line, byte by byte so that no
 * stdio buffer holds a copy and nothing after the first line is consumed;
 * from a terminal it is asked twice without echo. A new TOTP secret is
 * printed exactly once, like a new HMAC key.
 */
#include "admin.h"

#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "principals/passwords.h"

#define PW_BUF (JC_PASSWORD_MAX + 2)
#define B32_LEN ((JC_TOTP_SECRET_LEN * 8 + 4) / 5 + 1)
#define URI_MAX 512

/* read_line reads one line from fd into buf (its end, "\n" or "\r\n",
 * removed; NUL-ended). Returns its length; -1 on a read error; -2 when it
 * is longer than JC_PASSWORD_MAX; -3 when there is no input at all. */
static int read_line(int fd, char buf[PW_BUF])
{
    size_t n = 0;
    int got_any = 0, too_long = 0;

    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0 || ch == '\n')
            break;
        got_any = 1;
        if (n < PW_BUF - 1)
            buf[n++] = ch;
        else
            too_long = 1; /* keep reading to the end of the line, keep nothing */
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (too_long || n > JC_PASSWORD_MAX)
        return -2;
    if (!got_any)
        return -3;
    return (int)n;
}

/* prompt_line asks for a line on the terminal at stdin without echo. Echo
 * goes off (discarding what was typed before) before the prompt shows, so
 * nothing typed after the prompt is lost or echoed; it comes back without
 * discarding anything. */
static int prompt_line(const char *prompt, char buf[PW_BUF])
{
    struct termios old, quiet;
    int n, echo_off;

    echo_off = tcgetattr(STDIN_FILENO, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    fputs(prompt, stderr);
    fflush(stderr);
    n = read_line(STDIN_FILENO, buf);
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSADRAIN, &old);
    return n;
}

/* read_password fills pw from stdin: the first line when from_stdin, else
 * asked twice on the terminal. Returns an exit code (refusals printed). */
static int read_password(const char *id, int from_stdin, char pw[PW_BUF])
{
    int n, rc = ADMIN_OK;

    if (from_stdin) {
        n = read_line(STDIN_FILENO, pw);
    } else {
        char again[PW_BUF], prompt[128];

        snprintf(prompt, sizeof prompt, "New password for %s: ", id);
        n = prompt_line(prompt, pw);
        if (n >= 0) {
            int m = prompt_line("Repeat it: ", again);
            if (m != n || sodium_memcmp(pw, again, (size_t)n) != 0)
                rc = admin_fail(ADMIN_REFUSED, "the two passwords differ; nothing changed");
            sodium_memzero(again, sizeof again);
        }
    }
    if (n == -1)
        rc = admin_fail(ADMIN_SYSERR, "cannot read the password: %s", strerror(errno));
    else if (n == -2)
        rc = admin_fail(ADMIN_REFUSED, "the password is longer than %d bytes", JC_PASSWORD_MAX);
    else if (n == -3)
        rc = admin_fail(ADMIN_REFUSED, "no password on stdin (give it as the first line)");
    return rc;
}

/* cmd_set_password sets the login password of an admin or reader. */
static int cmd_set_password(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0];
    int from_stdin = admin_opt_value(a, "password-stdin") != NULL || !isatty(STDIN_FILENO);
    char pw[PW_BUF], err[512];
    jc_pr_status st;
    int rc;

    if (!jc_principal_name_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid principal id '%s' (1-64 of A-Z a-z 0-9 . _ : @ -)",
                          id);
    rc = read_password(id, from_stdin, pw);
    if (rc)
        goto out;
    rc = admin_db(ctx, 1);
    if (rc)
        goto out;
    st = jc_principal_set_password(ctx->db, id, pw, err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        goto out;
    admin_print_done(ctx, id,
                     ",\"password_set\":true,\"failed_logins\":0,\"locked_until\":null,"
                     "\"sessions_ended\":true}\n",
                     "password set for %s (failed logins and lockout cleared; sessions ended:"
                     " its tokens no longer work)\n",
                     id);
out:
    sodium_memzero(pw, sizeof pw);
    return rc;
}

/* cmd_unlock clears a principal's failed logins and lockout. */
static int cmd_unlock(admin_ctx *ctx, const admin_args *a)
{
    char err[512];
    jc_pr_status st;
    int rc = admin_db(ctx, 1);

    if (rc)
        return rc;
    st = jc_principal_unlock(ctx->db, a->pos[0], err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        return rc;
    admin_print_done(ctx, a->pos[0], ",\"unlocked\":true}\n",
                     "unlocked %s (failed logins 0, no lockout)\n", a->pos[0]);
    return ADMIN_OK;
}

/* otpauth_uri builds the Key URI of an authenticator app (Google
 * Authenticator's format). The id is percent-encoded in the label: ':' and
 * '@' are allowed in ids but mean something there. */
static void otpauth_uri(const char *id, const char *b32, jc_totp_alg alg, char *out,
                        size_t out_size)
{
    char label[3 * JC_MAX_PRINCIPAL_LEN + 1];
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)id; *p && n + 4 < sizeof label; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_')
            label[n++] = (char)*p;
        else
            n += (size_t)snprintf(label + n, sizeof label - n, "%%%02X", *p);
    }
    label[n] = '\0';
    snprintf(out, out_size,
             "otpauth://totp/jobcoord:%s?secret=%s&issuer=jobcoord&algorithm=%s&digits=%d"
             "&period=%d",
             label, b32, alg == JC_TOTP_SHA1 ? "SHA1" : "SHA256", JC_TOTP_DIGITS, JC_TOTP_STEP_S);
}

/* totp_enable makes and prints (once) a new TOTP secret for id, pending
 * until confirmed. */
static int totp_enable(admin_ctx *ctx, const char *id, jc_totp_alg alg)
{
    uint8_t secret[JC_TOTP_SECRET_LEN];
    char b32[B32_LEN], uri[URI_MAX], err[512];
    const char *enc_id;
    jc_pr_status st;
    int rc;

    rc = admin_db_keyring(ctx);
    if (rc)
        return rc;
    enc_id = jc_keyring_default_id(ctx->kr);
    st = jc_principal_totp_enable(ctx->db, ctx->kr, id, alg, secret, err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        return rc;
    jc_base32_encode(secret, sizeof secret, b32, sizeof b32);
    otpauth_uri(id, b32, alg, uri, sizeof uri);
    if (ctx->json) {
        admin_json_print(json_pack("{s:s,s:s,s:s,s:s?,s:s,s:b,s:b}", "id", id, "secret", b32, "uri",
                                   uri, "enc_key_id", enc_id, "algorithm", jc_totp_alg_name(alg),
                                   "totp_enabled", 0, "totp_pending", 1));
    } else {
        printf(
            "id         %s\nsecret     %s\nuri        %s\nalgorithm  %s\nstored     %s%s\n"
            "state      pending: logins do not ask for a code until one confirms it\n",
            id, b32, uri, jc_totp_alg_name(alg), enc_id ? "sealed with " : "plain text",
            enc_id ? enc_id : "");
    }
    fflush(stdout);
    fprintf(stderr,
            "jobcoord-admin: this secret is shown only once: enrol it now (HMAC-%s, %d digits, %d"
            " s steps), then confirm it with a code: jobcoord-admin user totp confirm %s CODE"
            " (or POST /v1/me/totp)\n",
            alg == JC_TOTP_SHA1 ? "SHA-1" : "SHA-256", JC_TOTP_DIGITS, JC_TOTP_STEP_S, id);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(b32, sizeof b32);
    sodium_memzero(uri, sizeof uri);
    return ADMIN_OK;
}

/* totp_disable turns TOTP off for id and deletes its secret. */
static int totp_disable(admin_ctx *ctx, const char *id)
{
    char err[512];
    jc_pr_status st;
    int rc = admin_db(ctx, 1);

    if (rc)
        return rc;
    st = jc_principal_totp_disable(ctx->db, id, err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        return rc;
    admin_print_done(ctx, id, ",\"totp_enabled\":false}\n",
                     "TOTP disabled for %s (secret deleted)\n", id);
    return ADMIN_OK;
}

/* totp_confirm confirms id's pending secret with a code of its device. */
static int totp_confirm(admin_ctx *ctx, const char *id, const char *code)
{
    char err[512];
    jc_pr_status st;
    int wrong = 0, rc = admin_db(ctx, 1);

    if (!rc)
        rc = admin_keyring(ctx, NULL);
    if (rc)
        return rc;
    st = jc_principal_totp_confirm(ctx->db, ctx->kr, id, code, &wrong, err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        return rc;
    admin_print_done(ctx, id, ",\"totp_enabled\":true,\"totp_pending\":false}\n",
                     "TOTP confirmed for %s: its logins now ask for a code\n", id);
    return ADMIN_OK;
}

/* cmd_totp dispatches `user totp enable|confirm|disable <id> [CODE]`. */
static int cmd_totp(admin_ctx *ctx, const admin_args *a)
{
    const char *alg_text = admin_opt_value(a, "algorithm");
    jc_totp_alg alg = JC_TOTP_SHA256;
    int confirm = a->npos > 0 && strcmp(a->pos[0], "confirm") == 0;

    if (a->npos != (confirm ? 3 : 2))
        return admin_usage(a, "expects enable <id>, confirm <id> <code> or disable <id>");
    if (alg_text && strcmp(a->pos[0], "enable") != 0)
        return admin_usage(a, "--algorithm goes with enable");
    if (alg_text && jc_totp_alg_parse(alg_text, &alg) != 0)
        return admin_fail(ADMIN_REFUSED, "--algorithm must be sha256 or sha1, not '%.32s'",
                          alg_text);
    if (strcmp(a->pos[0], "enable") == 0)
        return totp_enable(ctx, a->pos[1], alg);
    if (confirm)
        return totp_confirm(ctx, a->pos[1], a->pos[2]);
    if (strcmp(a->pos[0], "disable") == 0)
        return totp_disable(ctx, a->pos[1]);
    return admin_usage(a, "unknown action '%s' (enable, confirm or disable)", a->pos[0]);
}

static const admin_cmd credentials_commands[] = {
    {"user",
     "set-password",
     "<id> [--password-stdin]",
     "Set the login password of an admin or reader principal.",
     "The password is read from stdin, never from the command line: its first line\n"
     "(without the line end) when stdin is not a terminal or with --password-stdin;\n"
     "from a terminal it is asked twice without echo. 12 to 256 bytes. It is stored\n"
     "as an Argon2id hash; failed logins and any lockout are cleared, and its\n"
     "sessions end (every access and refresh token issued to it stops working).\n"
     "Example: printf '%s\\n' \"$PW\" | jobcoord-admin user set-password alice",
     1,
     {{"password-stdin", NULL, "read the first line of stdin even from a terminal"}},
     cmd_set_password},
    {"user",
     "unlock",
     "<id>",
     "Clear a principal's failed logins and login lockout.",
     "After auth.login_max_failures wrong passwords in a row, logins are refused\n"
     "for auth.lockout_s seconds; this ends the lockout at once.",
     1,
     {{NULL, NULL, NULL}},
     cmd_unlock},
    {"user",
     "totp",
     "enable <id> [--algorithm sha256|sha1] | confirm <id> <code> | disable <id>",
     "Turn TOTP (the second login factor) on or off for an admin or reader.",
     "enable makes a new random secret (replacing any previous one) and prints it once,\n"
     "in base32 and as an otpauth:// URI for authenticator apps (HMAC-SHA-256 unless\n"
     "--algorithm sha1, for apps that ignore the URI's algorithm; 6 digits, 30 s\n"
     "steps); it is stored sealed with security.encryption_key_id, or in plain text\n"
     "without a keys file if security.allow_plaintext is true (else refused, exit 1).\n"
     "The secret is pending, and logins do not ask for a code, until confirm is given\n"
     "a code of the enrolled device (the principal can also confirm it itself with\n"
     "POST /v1/me/totp). disable deletes the secret.",
     -1,
     {{"algorithm", "ALG", "enable: sha256 (default) or sha1"}},
     cmd_totp},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_credentials_commands(void)
{
    return credentials_commands;
}
