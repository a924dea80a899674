'use strict';
/*
 * JSON Web Tokens for the auth tests, signed with node:crypto (no npm package): HS256/384/512
 * with a secret, RS256 with an RSA private key, ES256 with an EC P-256 private key (JWS's raw
 * r||s signature), or alg "none" with no signature at all. The test keys are
 * tests/fixtures/jwt/ (test-only; see the README there).
 *
 *   sign(claims, {alg = 'HS256', key, kid, header}) -> token
 *   fixture(name) -> the file's text; fixturePath(name) -> its path
 *   now() -> seconds since the epoch (exp / nbf are in seconds)
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const FIXTURES = path.resolve(__dirname, '../../fixtures/jwt');

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function signature(alg, key, input) {
  if (alg.startsWith('HS')) return crypto.createHmac(`sha${alg.slice(2)}`, key).update(input).digest();
  if (alg.startsWith('RS')) return crypto.sign(`sha${alg.slice(2)}`, Buffer.from(input), key);
  if (alg.startsWith('ES')) {
    return crypto.sign(`sha${alg.slice(2)}`, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  }
  if (alg === 'none') return Buffer.alloc(0);
  throw new Error(`jwt.sign: no signer for ${alg}`);
}

function sign(claims, { alg = 'HS256', key, kid, header = {} } = {}) {
  const head = { alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header };
  const input = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(signature(alg, key, input))}`;
}

const fixturePath = (name) => path.join(FIXTURES, name);
const fixture = (name) => fs.readFileSync(fixturePath(name), 'utf8');
const now = () => Math.floor(Date.now() / 1000);

module.exports = { sign, fixture, fixturePath, now };
