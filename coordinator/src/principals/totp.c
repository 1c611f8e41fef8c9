/*
 * totp.c - TOTP codes and confirmed enrolment (see passwords.h).
 *
 * Codes come from liboath (RFC 4226 HOTP over RFC 6238 time steps), with
 * HMAC-SHA-256 (the default) or HMAC-SHA-1 (for authenticator apps that
 * ignore the otpauth URI's algorithm); jc_totp_check in passwords.c is the
 * one verifier (window, replay rule, constant-time comparison) of logins
 * and confirmations alike. A secret made by `user totp enable` is pending
 * until a valid code confirms it here (`user totp confirm`, POST
 * /v1/me/totp): only then do logins ask for a code.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <liboath/oath.h>

#include "principals/passwords.h"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ready;

static void oath_start(void)
{
    oath_ready = oath_init() == OATH_OK;
}

int jc_totp_alg_parse(const char *s, jc_totp_alg *out)
{
    if (s && strcasecmp(s, "sha256") == 0)
        *out = JC_TOTP_SHA256;
    else if (s && strcasecmp(s, "sha1") == 0)
        *out = JC_TOTP_SHA1;
    else
        return -1;
    return 0;
}

const char *jc_totp_alg_name(jc_totp_alg alg)
{
    return alg == JC_TOTP_SHA1 ? "sha1" : "sha256";
}

uint32_t jc_totp_code_alg(jc_totp_alg alg, const uint8_t *secret, size_t len, uint64_t step,
                          int digits)
{
    char otp[16];
    uint32_t code;

    if (digits < 1 || digits > 8)
        return 0;
    if (digits < 6) { /* liboath makes 6..8: the truncation differs only by the modulus */
        uint32_t mod = 1;
        for (int i = 0; i < digits; i++)
            mod *= 10;
        return jc_totp_code_alg(alg, secret, len, step, 8) % mod;
    }
    pthread_once(&oath_once, oath_start);
    if (!oath_ready)
        return 0;
    if (oath_totp_generate2((const char *)secret, len, (time_t)(step * JC_TOTP_STEP_S),
                            JC_TOTP_STEP_S, 0, (unsigned)digits,
                            alg == JC_TOTP_SHA1 ? 0 : OATH_TOTP_HMAC_SHA256, otp) != OATH_OK)
        return 0;
    code = (uint32_t)strtoul(otp, NULL, 10);
    memset(otp, 0, sizeof otp);
    return code;
}

jc_pr_status jc_principal_totp_confirm(PGconn *c, const jc_keyring *kr, const char *id,
                                       const char *code, int *wrong_code, char *err, size_t errsz)
{
    const char *p[1] = {id};
    PGresult *r;
    jc_pr_status st = JC_PR_INVALID;
    uint8_t sealed[256], secret[JC_TOTP_SECRET_LEN];
    size_t slen = 0;
    int64_t matched = 0;
    jc_totp_alg alg = JC_TOTP_SHA256;

    *wrong_code = 0;
    if (!code || strlen(code) != JC_TOTP_DIGITS || strspn(code, "0123456789") != JC_TOTP_DIGITS) {
        snprintf(err, errsz, "a TOTP code is %d digits", JC_TOTP_DIGITS);
        return JC_PR_INVALID;
    }
    PQclear(PQexec(c, "BEGIN"));
    r = PQexecParams(c,
                     "SELECT totp_pending, totp_enabled, encode(totp_secret, 'hex'),"
                     " totp_enc_key_id, totp_last_step, totp_algorithm"
                     " FROM principals WHERE id = $1 FOR UPDATE",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errsz, "cannot read the TOTP secret of '%s': %s", id,
                 PQresultErrorMessage(r));
        st = JC_PR_ERROR;
        goto out;
    }
    if (PQntuples(r) != 1) {
        snprintf(err, errsz, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
        goto out;
    }
    if (PQgetvalue(r, 0, 0)[0] != 't') {
        snprintf(err, errsz, "'%s' has no pending TOTP secret to confirm (%s)", id,
                 PQgetvalue(r, 0, 1)[0] == 't' ? "it is already confirmed"
                                               : "`user totp enable` makes one");
        goto out;
    }
    jc_totp_alg_parse(PQgetvalue(r, 0, 5), &alg);
    if (strlen(PQgetvalue(r, 0, 2)) / 2 > sizeof sealed ||
        sodium_hex2bin(sealed, sizeof sealed, PQgetvalue(r, 0, 2), strlen(PQgetvalue(r, 0, 2)),
                       NULL, &slen, NULL) != 0 ||
        jc_totp_secret_open(kr, id, sealed, slen, PQgetisnull(r, 0, 3) ? NULL : PQgetvalue(r, 0, 3),
                            secret) != 0) {
        snprintf(err, errsz, "the TOTP secret of '%s' cannot be opened (keys file?)", id);
        st = JC_PR_ERROR;
        goto out;
    }
    if (jc_totp_check(alg, secret, sizeof secret, code, (int64_t)time(NULL), 1,
                      strtoll(PQgetvalue(r, 0, 4), NULL, 10), &matched) != 0) {
        snprintf(err, errsz, "wrong TOTP code for '%s' (check the device's clock and algorithm %s)",
                 id, jc_totp_alg_name(alg));
        *wrong_code = 1;
        goto out;
    }
    PQclear(r);
    {
        char step[24];
        const char *p2[2] = {id, step};
        snprintf(step, sizeof step, "%lld", (long long)matched);
        r = PQexecParams(c,
                         "UPDATE principals SET totp_enabled = true, totp_pending = false,"
                         " totp_last_step = $2::bigint WHERE id = $1",
                         2, NULL, p2, NULL, NULL, 0);
    }
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errsz, "cannot confirm the TOTP secret of '%s': %s", id,
                 PQresultErrorMessage(r));
        st = JC_PR_ERROR;
        goto out;
    }
    PQclear(r);
    r = PQexec(c, "COMMIT");
    st = PQresultStatus(r) == PGRES_COMMAND_OK ? JC_PR_OK : JC_PR_ERROR;
    if (st != JC_PR_OK)
        snprintf(err, errsz, "cannot confirm the TOTP secret of '%s': %s", id,
                 PQresultErrorMessage(r));
    PQclear(r);
    sodium_memzero(secret, sizeof secret);
    return st;
out:
    PQclear(r);
    PQclear(PQexec(c, "ROLLBACK"));
    sodium_memzero(secret, sizeof secret);
    return st;
}
