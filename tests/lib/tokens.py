#!/usr/bin/env python3
"""tokens.py - what the HTTP tests need to speak OAuth2 to the coordinator
without using any of its code: client_secret_jwt assertions (RFC 7523,
HS256 with a principal's HMAC key), TOTP codes (RFC 6238, HMAC-SHA-256),
decoding JWT parts, and form-encoding.

  tokens.py assertion --sub P --kid K --key B64 --aud URL [--iss I]
            [--exp-in S] [--iat-offset S] [--jti J] [--alg A] [--no-jti]
  tokens.py totp --secret BASE32 [--offset STEPS] [--algorithm sha256|sha1]
  tokens.py part TOKEN header|claims      (prints the decoded JSON)
"""
import argparse
import base64
import hashlib
import hmac
import json
import struct
import sys
import time
import uuid


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign_hs256(header: dict, claims: dict, key: bytes) -> str:
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(key, f"{h}.{c}".encode(), hashlib.sha256).digest()
    return f"{h}.{c}.{b64url(mac)}"


def totp(secret_b32: str, offset: int = 0, now=None, algorithm: str = "sha256") -> str:
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((now or time.time()) // 30) + offset
    mac = hmac.new(key, struct.pack(">Q", step), getattr(hashlib, algorithm)).digest()
    o = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000
    return f"{code:06d}"


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("assertion")
    a.add_argument("--sub", required=True)
    a.add_argument("--iss")
    a.add_argument("--kid")
    a.add_argument("--key", required=True)
    a.add_argument("--aud", required=True)
    a.add_argument("--exp-in", type=int, default=60)
    a.add_argument("--iat-offset", type=int, default=0)
    a.add_argument("--jti")
    a.add_argument("--no-jti", action="store_true")
    a.add_argument("--alg", default="HS256")
    t = sub.add_parser("totp")
    t.add_argument("--secret", required=True)
    t.add_argument("--offset", type=int, default=0)
    t.add_argument("--algorithm", choices=["sha256", "sha1"], default="sha256")
    p = sub.add_parser("part")
    p.add_argument("token")
    p.add_argument("which", choices=["header", "claims"])
    args = ap.parse_args()

    if args.cmd == "assertion":
        now = int(time.time()) + args.iat_offset
        header = {"alg": args.alg, "typ": "JWT"}
        if args.kid:
            header["kid"] = args.kid
        claims = {"iss": args.iss or args.sub, "sub": args.sub, "aud": args.aud,
                  "iat": now, "exp": now + args.exp_in}
        if not args.no_jti:
            claims["jti"] = args.jti or str(uuid.uuid4())
        print(sign_hs256(header, claims, base64.b64decode(args.key)))
    elif args.cmd == "totp":
        print(totp(args.secret, args.offset, algorithm=args.algorithm))
    else:
        parts = args.token.split(".")
        print(unb64url(parts[0 if args.which == "header" else 1]).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
