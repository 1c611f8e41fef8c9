/*
 * fuzz_jws.c - libFuzzer target for what the token endpoint and the bearer
 * check parse from the network before any key is involved: the compact JWS
 * splitter and decoder, the strict JSON reader under it, and the claim
 * lookups the coordinator makes.
 *   build-fuzz/tests/fuzz/fuzz_jws -max_total_time=60 tests/fuzz/corpus/jws
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jcproto/json.h"
#include "jcproto/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static jc_jws j;
    static const uint8_t key[32];
    char err[160], s[256];
    int64_t v;
    json_t *doc;

    /* the input as a token */
    if (jc_jws_parse((const char *)data, size, &j, err, sizeof err) == 0) {
        (void)jc_jws_verify_hs256(&j, key);
        (void)jc_jws_verify_eddsa(&j, key);
        (void)jc_json_member_string(j.cl, "sub", s, sizeof s);
        (void)jc_json_int64(json_object_get(j.cl, "exp"), &v);
        jc_jws_free(&j);
    }
    /* the input as a JSON document */
    doc = jc_json_parse((const char *)data, size, err, sizeof err);
    if (doc) {
        (void)jc_json_member_string(doc, "access_token", s, sizeof s);
        (void)jc_json_int64(json_object_get(doc, "expires_in"), &v);
        json_decref(doc);
    }
    return 0;
}
