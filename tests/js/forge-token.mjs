// forge-token.mjs - makes access tokens the coordinator must refuse (or,
// with the real signing key, accept), without any of its code: node's own
// Ed25519 and HMAC.
//
//   node forge-token.mjs --mode eddsa|none|hs256-pub --seed HEX --pub HEX
//        --kid KID --claims JSON [--header JSON]
//
// eddsa: signs with the Ed25519 key whose 32-byte seed is given (the test
// reads it from PostgreSQL, where it is stored in plain text when no keys
// file is configured). none: alg "none", empty signature. hs256-pub: HS256
// with the public key's 32 bytes as the HMAC secret (the classic algorithm
// confusion attack).
import { createHmac, createPrivateKey, sign } from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'eddsa' },
    seed: { type: 'string', default: '' },
    pub: { type: 'string', default: '' },
    kid: { type: 'string', default: '' },
    claims: { type: 'string' },
    header: { type: 'string', default: '{}' },
  },
});
const b64url = (b) => Buffer.from(b).toString('base64url');
const alg = { eddsa: 'EdDSA', none: 'none', 'hs256-pub': 'HS256' }[a.mode];
if (!alg || !a.claims) {
  console.error('usage: forge-token.mjs --mode eddsa|none|hs256-pub --claims JSON ...');
  process.exit(2);
}
const header = { alg, typ: 'at+jwt', ...(a.kid ? { kid: a.kid } : {}), ...JSON.parse(a.header) };
const input = `${b64url(JSON.stringify(header))}.${b64url(a.claims)}`;
let sig = Buffer.alloc(0);
if (a.mode === 'eddsa') {
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: b64url(Buffer.from(a.seed, 'hex')),
           x: b64url(Buffer.from(a.pub, 'hex')) },
    format: 'jwk',
  });
  sig = sign(null, Buffer.from(input), key);
} else if (a.mode === 'hs256-pub') {
  sig = createHmac('sha256', Buffer.from(a.pub, 'hex')).update(input).digest();
}
console.log(`${input}.${b64url(sig)}`);
