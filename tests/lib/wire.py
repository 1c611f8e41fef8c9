#!/usr/bin/env python3
"""wire.py - builds signed protocol records by hand, from schemas/PROTOCOL.md
alone (canonical msgpack, section 3.2; envelope and HMAC, sections 4-6).

The C encoder refuses to build a message a receiver would reject, so tests
that need values only a hostile or foreign sender would produce (an `after`
of 2^63, a timestamp past what the database stores) build them here. Writes
lines "KEY HEX" for `jctest-kafka produce --raw-file`.

    wire.py submit --principal P --key-id K --key B64 --count N
                   [--poison-every M --poison-after V] [--job-type T]
                   [--proto-version V] [--extra-body KEY=TEXT] [--forge-mac]

--proto-version writes V as the envelope's "v" (any integer, 1 by default);
--extra-body adds a str field the body does not define (an unknown key);
--forge-mac signs with a key that is not the principal's.
"""
import argparse
import base64
import hashlib
import hmac
import os
import struct
import sys
import time


def pack(o):
    """Canonical msgpack of None-free ints, str, bytes, bool, lists, dicts."""
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int):
        if o >= 0:
            if o < 0x80:
                return struct.pack("B", o)
            for tag, fmt, lim in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16),
                                  (0xCE, ">I", 1 << 32), (0xCF, ">Q", 1 << 64)):
                if o < lim:
                    return bytes([tag]) + struct.pack(fmt, o)
            raise ValueError("integer too large for msgpack")
        if o >= -32:
            return struct.pack("b", o)
        for tag, fmt, lim in ((0xD0, ">b", 1 << 7), (0xD1, ">h", 1 << 15),
                              (0xD2, ">i", 1 << 31), (0xD3, ">q", 1 << 63)):
            if o >= -lim:
                return bytes([tag]) + struct.pack(fmt, o)
        raise ValueError("integer too small for msgpack")
    if isinstance(o, str):
        b = o.encode()
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 1 << 8:
            return b"\xd9" + struct.pack(">B", n) + b
        if n < 1 << 16:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n < 1 << 8:
            return b"\xc4" + struct.pack(">B", n) + bytes(o)
        if n < 1 << 16:
            return b"\xc5" + struct.pack(">H", n) + bytes(o)
        return b"\xc6" + struct.pack(">I", n) + bytes(o)
    if isinstance(o, list):
        n = len(o)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(type(o))


def uuid_text(b):
    h = b.hex()
    return "-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))


def envelope(principal, key_id, key, mtype, body, ts_ms=None, version=1):
    """The record value: envelope over the signed payload (sections 4-6)."""
    s = pack({"t": mtype, "id": os.urandom(16),
              "ts": int(time.time() * 1000) if ts_ms is None else ts_ms,
              "p": principal, "b": body})
    m = hmac.new(key, s, hashlib.sha256).digest()
    return pack({"v": version, "p": principal, "k": key_id, "s": s, "m": m})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["submit"])
    ap.add_argument("--principal", required=True)
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--key", required=True, help="base64")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--job-type", default="t1")
    ap.add_argument("--poison-every", type=int, default=0,
                    help="every Mth message carries --poison-after")
    ap.add_argument("--poison-after", type=int, default=1 << 63)
    ap.add_argument("--proto-version", type=int, default=1)
    ap.add_argument("--extra-body", default=None, help="KEY=TEXT")
    ap.add_argument("--forge-mac", action="store_true")
    a = ap.parse_args()
    key = base64.b64decode(a.key)
    if a.forge_mac:
        key = bytes([key[0] ^ 0x5A]) + key[1:]
    out = sys.stdout
    for i in range(a.count):
        body = {"job": os.urandom(16), "type": a.job_type, "payload": b"x"}
        if a.poison_every and i % a.poison_every == a.poison_every - 1:
            body["after"] = a.poison_after
        if a.extra_body:
            name, _, text = a.extra_body.partition("=")
            body[name] = text
        rec = envelope(a.principal, a.key_id, key, "job.submit", body, version=a.proto_version)
        out.write("%s %s\n" % (a.principal, rec.hex()))


if __name__ == "__main__":
    main()
