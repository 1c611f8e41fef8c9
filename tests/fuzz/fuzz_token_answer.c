/*
 * fuzz_token_answer.c - libFuzzer target for what the SDK's token source
 * makes of a token endpoint's answer once libcurl has delivered it:
 * jc_token_read_answer (status and body to a token, its lifetime and the
 * granted scope, or an error quoting the server) and the JSON and JWS
 * readers under it. libcurl itself (framing, chunked, TLS) is fuzzed by
 * its own project.
 *
 * Input: "NNN " (an HTTP status, three digits and a space) then the body;
 * without that prefix, the whole input is the body of a 200 answer. Besides
 * memory safety it checks what the caller relies on: a token is handed out
 * only with status 200, a usable bearer token, an expiry after the request
 * and printable text; an error is one of the documented codes, with a
 * printable message.
 *   build-fuzz/tests/fuzz/fuzz_token_answer -max_total_time=60 tests/fuzz/corpus/token_answer
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* printable: every byte of s is printable ASCII. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static jc_token_answer out;
    const int64_t sent_ms = 1700000000000;
    char err[512] = "";
    int status = 200;
    char *body;
    jc_err_t rc;

    if (size >= 4 && data[0] >= '0' && data[0] <= '9' && data[1] >= '0' && data[1] <= '9' &&
        data[2] >= '0' && data[2] <= '9' && data[3] == ' ') {
        status = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
        data += 4;
        size -= 4;
    }
    /* the body as libcurl hands it over: exactly size bytes, not NUL-ended */
    body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    rc = jc_token_read_answer(status, body, size, sent_ms, &out, err, sizeof err);
    if (rc == JC_OK) {
        if (status != 200 || !jc_token_bearer_ok(out.token) ||
            strlen(out.token) > JC_TOKEN_MAX_LEN || out.expires_at_ms <= sent_ms ||
            strlen(out.scope) > JC_TOKEN_SCOPE_MAX || !printable(out.scope))
            abort();
    } else {
        if ((rc != JC_ERR_AUTH && rc != JC_ERR_TRANSPORT && rc != JC_ERR_MALFORMED &&
             rc != JC_ERR_NOMEM) ||
            !err[0] || !printable(err) || out.token[0])
            abort();
    }
    free(body);
    return 0;
}
