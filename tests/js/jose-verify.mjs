#!/usr/bin/env node
// jose-verify - verifies a jobcoord access token with an independent JOSE
// implementation (panva's jose), fetching the keys from the coordinator's
// JWKS the way a third-party service would.
//
//   node jose-verify.mjs --jwks URL --issuer ISS --audience AUD --token TOKEN
//
// TOKEN "-" reads the token from standard input (keeps it out of ps).
// Algorithms are pinned to EdDSA and the header's typ must be at+jwt.
// Prints one JSON line:
//   {"ok":true,"kid":"<kid>","payload":{...claims}}
//   {"ok":false,"code":"ERR_JWS_SIGNATURE_VERIFICATION_FAILED","message":"..."}
// and exits 0 either way; 2 on a usage error. The JWKS URL must be on the
// loopback interface (tests only talk to this machine) unless
// --allow-non-loopback is given.
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';

// jose 6 uses the Web Crypto API through the global `crypto`, which Node 18
// (Debian 12's) has only behind a flag: give it node:crypto's before jose loads.
if (!globalThis.crypto) globalThis.crypto = webcrypto;
const { createRemoteJWKSet, jwtVerify } = await import('jose');

function usage(msg) {
    if (msg) process.stderr.write(`jose-verify: ${msg}\n`);
    process.stderr.write('usage: jose-verify.mjs --jwks URL --issuer ISS --audience AUD --token TOKEN|- [--allow-non-loopback]\n');
    process.exit(2);
}

function parseArgs(argv) {
    const out = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--help' || a === '-h') usage();
        if (a === '--allow-non-loopback') {
            out.allowNonLoopback = true;
            continue;
        }
        const m = /^--(jwks|issuer|audience|token)(?:=(.*))?$/.exec(a);
        if (!m) usage(`unknown argument ${a}`);
        let v = m[2];
        if (v === undefined) {
            if (i + 1 >= argv.length) usage(`--${m[1]} needs a value`);
            v = argv[++i];
        }
        out[m[1]] = v;
    }
    for (const k of ['jwks', 'issuer', 'audience', 'token']) if (out[k] === undefined) usage(`--${k} is required`);
    return out;
}

function isLoopback(url) {
    const h = url.hostname.replace(/^\[|\]$/g, '');
    return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const args = parseArgs(process.argv.slice(2));
let jwksUrl;
try {
    jwksUrl = new URL(args.jwks);
} catch {
    usage(`--jwks is not a URL: ${args.jwks}`);
}
if (jwksUrl.protocol !== 'http:' && jwksUrl.protocol !== 'https:') usage('--jwks must be an http or https URL');
if (!args.allowNonLoopback && !isLoopback(jwksUrl)) usage(`--jwks ${args.jwks} is not on the loopback interface`);
const token = (args.token === '-' ? readFileSync(0, 'utf8') : args.token).trim();

try {
    const jwks = createRemoteJWKSet(jwksUrl, { timeoutDuration: 5000, cooldownDuration: 0 });
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: args.issuer,
        audience: args.audience,
        algorithms: ['EdDSA'],
        typ: 'at+jwt',
    });
    console.log(JSON.stringify({ ok: true, kid: protectedHeader.kid ?? null, payload }));
} catch (err) {
    console.log(JSON.stringify({ ok: false, code: err?.code ?? null, message: String(err?.message ?? err) }));
}
process.exit(0);
