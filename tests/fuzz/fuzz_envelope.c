/*
 * fuzz_envelope.c - libFuzzer target for the receiving side of the wire
 * protocol: jc_envelope_parse, jc_envelope_verify with a fixed key,
 * jc_msg_decode, jc_msg_release.
 *
 * The payload is decoded even when the MAC does not verify: a receiver
 * never does that, but a mutated envelope almost never carries a valid MAC,
 * and the decoder must be safe on any bytes anyway. The fixed key is the
 * one of the test vectors' worker-1, so the seed corpus (valid envelopes
 * written by jc-gen-vectors --corpus) verifies. Whatever decodes must also
 * re-encode, since the encoder refuses only what the decoder rejects.
 */
#include <stdint.h>
#include <stdlib.h>

#include "jcproto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[JC_KEY_LEN] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                            11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                            22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    char errstr[256];
    jc_envelope env;
    jc_msg m;
    msgpack_sbuffer again;

    if (jc_envelope_parse(data, size, 0, &env, errstr, sizeof(errstr)) != JC_OK)
        return 0;
    (void)jc_envelope_verify(&env, key);
    if (jc_msg_decode(&env, &m, errstr, sizeof(errstr)) != JC_OK)
        return 0;
    msgpack_sbuffer_init(&again);
    if (jc_msg_encode_signed(&m, &again, errstr, sizeof(errstr)) != JC_OK)
        abort(); /* decoded but not encodable: the two directions disagree */
    msgpack_sbuffer_destroy(&again);
    jc_msg_release(&m);
    return 0;
}
