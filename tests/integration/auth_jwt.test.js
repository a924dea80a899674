'use strict';
// auth: on: a JWT on every Socket.IO CONNECT (the CONNECT payload's `token`, else the query's),
// with the real socket.io-client over both transports. A valid token connects and chats as the
// token's user; each bad token gets connect_error "unauthorized" with its reason in err.data and
// the Engine.IO session may CONNECT again; the channels claim; a message's userId refused or
// rewritten; a secret rotated by reload; the /metrics counters; a bad key file at --check-config.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { scope, collect, settle, isReference, expectConnectError, getMetrics, chatdBinary } = require('./lib/harness');
const { sign, fixture, fixturePath, now } = require('./lib/jwt');
const { openEngineIO } = require('./lib/rawws');

const skip = isReference ? "JWT auth (auth:) is chatd's own: the reference seed server has none" : false;
const TIMEOUT = { timeout: 60_000, skip };
const TRANSPORTS = ['websocket', 'polling'];
const SECRET = 'integration-secret-0123456789';
const ISSUER = 'https://issuer.example';

function tempDir(s) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-auth-'));
  s.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// chatd with auth on: HS256 (a secret file of the test's own) and RS256 (the fixture's public
// key), issuer and audience required, no leeway; `auth` overrides.
async function world(t, auth = {}) {
  const s = scope(t);
  const secretFile = path.join(tempDir(s), 'secret');
  fs.writeFileSync(secretFile, `${SECRET}\n`);
  const redis = await s.redis();
  const server = await s.server({
    redisUrl: redis.url,
    config: {
      auth: {
        enabled: true,
        algorithms: ['HS256', 'RS256'],
        secret_file: secretFile,
        public_key_file: fixturePath('rsa_public.pem'),
        issuer: ISSUER,
        audience: 'chatd',
        leeway: 0,
        ...auth,
      },
    },
  });
  return { s, server, secretFile };
}

// A valid token for `sub` (HS256 with the secret unless told), its claims overridable.
function token(sub, claims = {}, opts = {}) {
  return sign({ sub, iss: ISSUER, aud: 'chatd', exp: now() + 600, ...claims }, { key: SECRET, ...opts });
}

for (const transport of TRANSPORTS) {
  test(`a valid token connects and chats as the token's user (${transport})`, TIMEOUT, async (t) => {
    const { s, server } = await world(t);
    const alice = await s.client(server.url, { channel: 'r1', userId: 'alice', transports: [transport], auth: { token: token('alice') } });
    const logins = collect(alice, 'login');
    const chats = collect(alice, 'chat');
    // Bob's token comes in the query; his query's userId claims to be someone else.
    const bob = await s.client(server.url, { channel: 'r1', userId: 'not-bob', transports: [transport], query: { token: token('bob') } });
    const bobChats = collect(bob, 'chat');
    const login = await logins.waitFor((q) => q && q.userId === 'bob', { label: "bob's login" });
    assert.equal(login.channel, 'r1');
    assert.equal(login.token, undefined, 'the login does not hand the token to the room');

    alice.emit('message', { userId: 'alice', channel: 'r1', body: 'hi' });
    await bobChats.waitCount(1, { label: 'bob' });
    assert.deepEqual(bobChats.items[0], { userId: 'alice', channel: 'r1', body: 'hi' });
    bob.emit('message', { userId: 'bob', body: 'hello' });
    await chats.waitCount(1, { label: 'alice' });
    assert.deepEqual(chats.items[0], { userId: 'bob', body: 'hello' });
  });

  test(`each bad token gets connect_error unauthorized with its reason (${transport})`, TIMEOUT, async (t) => {
    const { s, server } = await world(t);
    const past = now() - 60;
    const cases = [
      ['no token', undefined, 'missing token'],
      ['not a JWT', 'garbage', 'malformed token'],
      ['expired', token('a', { exp: past }), 'token expired'],
      ['not yet valid', token('a', { nbf: now() + 600 }), 'token not yet valid'],
      ['another secret', token('a', {}, { key: 'not the secret' }), 'invalid signature'],
      ['alg none', token('a', {}, { alg: 'none' }), 'algorithm not allowed'],
      ['HS512, not configured', token('a', {}, { alg: 'HS512' }), 'algorithm not allowed'],
      ['ES256, not configured', token('a', {}, { alg: 'ES256', key: fixture('ec_private.pem') }), 'algorithm not allowed'],
      ['HS256 keyed with the RSA public key', token('a', {}, { key: fixture('rsa_public.pem') }), 'invalid signature'],
      ['RS256 by another key', token('a', {}, { alg: 'RS256', key: fixture('rsa2_private.pem') }), 'invalid signature'],
      ['wrong issuer', token('a', { iss: 'https://evil.example' }), 'wrong issuer'],
      ['wrong audience', token('a', { aud: 'other' }), 'wrong audience'],
      ['no sub', token(undefined), 'missing user claim'],
    ];
    for (const [what, bad, reason] of cases) {
      const err = await expectConnectError(server.url, {
        channel: 'r1', userId: 'a', transports: [transport], auth: bad === undefined ? {} : { token: bad },
      });
      assert.equal(err.message, 'unauthorized', `${what}: ${err.message}`);
      assert.deepEqual(err.data, { reason }, what);
    }
    // RS256 with the configured key is fine.
    await s.client(server.url, { channel: 'r1', transports: [transport], auth: { token: token('r', {}, { alg: 'RS256', key: fixture('rsa_private.pem') }) } });
  });
}

test('a refused CONNECT gets exactly 44{"message":"unauthorized","data":{"reason":…}} and the session may CONNECT again', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  // socket.io-client drops its Engine.IO connection after a connect_error: a raw client shows
  // the session staying, as after a Socket.IO middleware's error.
  const raw = s.track(await openEngineIO(server.port, { query: { channel: 'r1' } }));
  const refused = await raw.connect({ auth: { token: token('a', { exp: now() - 60 }) } });
  assert.equal(refused, '44{"message":"unauthorized","data":{"reason":"token expired"}}');
  assert.equal(await raw.connect({ auth: {} }), '44{"message":"unauthorized","data":{"reason":"missing token"}}');
  assert.match(await raw.connect({ auth: { token: token('a') } }), /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
});

test('the channels claim lists the channels a token may join', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { channels_claim: 'channels' });
  const tok = token('alice', { channels: ['r1', 'r2'] });
  await s.client(server.url, { channel: 'r1', auth: { token: tok } });
  await s.client(server.url, { channel: 'r2', auth: { token: tok } });
  for (const [channel, t2] of [['r3', tok], ['r1', token('alice')]]) {
    const err = await expectConnectError(server.url, { channel, auth: { token: t2 } });
    assert.equal(err.message, 'unauthorized');
    assert.deepEqual(err.data, { reason: 'channel not allowed' });
  }
});

test('refuse: a message with another userId is dropped and the sender gets an error event', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { mismatched_user_id: 'refuse' });
  const alice = await s.client(server.url, { channel: 'r1', auth: { token: token('alice') } });
  const bob = await s.client(server.url, { channel: 'r1', auth: { token: token('bob') } });
  const errors = collect(alice, 'error');
  const bobChats = collect(bob, 'chat');
  alice.emit('message', { userId: 'bob', body: 'forged' });
  const e = await errors.waitCount(1).then(() => errors.items[0]);
  assert.deepEqual(e, { message: 'forbidden', data: { reason: "userId does not match the token's user" } });
  alice.emit('message', { userId: 'alice', body: 'real' });
  await bobChats.waitCount(1);
  await settle();
  assert.deepEqual(bobChats.items, [{ userId: 'alice', body: 'real' }], 'only the honest message reached bob');
  const m = await getMetrics(server.port);
  const mismatches = m.samples.filter((x) => x.name === 'chatd_auth_user_id_mismatch_total').reduce((a, x) => a + x.value, 0);
  assert.equal(mismatches, 1);
});

test("rewrite: a message with another userId reaches the room with the token's user", TIMEOUT, async (t) => {
  const { s, server } = await world(t, { mismatched_user_id: 'rewrite' });
  const alice = await s.client(server.url, { channel: 'r1', auth: { token: token('alice') } });
  const bob = await s.client(server.url, { channel: 'r1', auth: { token: token('bob') } });
  const bobChats = collect(bob, 'chat');
  const errors = collect(alice, 'error');
  alice.emit('message', { userId: 'bob', body: 'forged' });
  alice.emit('message', { body: 'anonymous' });
  await bobChats.waitCount(2);
  assert.deepEqual(bobChats.items, [{ userId: 'alice', body: 'forged' }, { body: 'anonymous', userId: 'alice' }]);
  assert.deepEqual(errors.items, []);
});

test('reload with a rotated secret: tokens of the old secret are refused for new connections', { ...TIMEOUT, timeout: 90_000 }, async (t) => {
  const { s, server, secretFile } = await world(t);
  await s.client(server.url, { channel: 'r1', auth: { token: token('alice') } });
  const rotated = 'the-rotated-secret-9876543210';
  fs.writeFileSync(secretFile, rotated);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 20_000);
  const err = await expectConnectError(server.url, { channel: 'r1', auth: { token: token('alice') } });
  assert.equal(err.message, 'unauthorized');
  assert.deepEqual(err.data, { reason: 'invalid signature' });
  await s.client(server.url, { channel: 'r1', auth: { token: token('alice', {}, { key: rotated }) } });
});

test('a reload whose key file is missing is refused with the file, line and reason', TIMEOUT, async (t) => {
  const { s, server, secretFile } = await world(t);
  fs.rmSync(secretFile);
  server.signal('SIGHUP');
  const refused = await server.waitForLog(/reload refused: /, 10_000);
  assert.match(refused, /:\d+: auth\.secret_file: .*cannot open: No such file or directory/);
  // The running workers keep the keys they loaded.
  await s.client(server.url, { channel: 'r1', auth: { token: token('alice') } });
});

test('/metrics counts accepted CONNECTs and refused ones by reason', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  await s.client(server.url, { channel: 'r1', auth: { token: token('alice') } });
  await s.client(server.url, { channel: 'r1', auth: { token: token('bob') } });
  await expectConnectError(server.url, { channel: 'r1', auth: { token: token('a', { exp: now() - 60 }) } });
  await expectConnectError(server.url, { channel: 'r1' });
  await expectConnectError(server.url, { channel: 'r1' });
  const m = await getMetrics(server.port);
  const sum = (name, pred = () => true) => m.samples.filter((x) => x.name === name && pred(x)).reduce((a, x) => a + x.value, 0);
  assert.equal(sum('chatd_auth_accepted_total'), 2);
  assert.equal(sum('chatd_auth_refused_total', (x) => x.labels.reason === 'expired'), 1);
  assert.equal(sum('chatd_auth_refused_total', (x) => x.labels.reason === 'missing'), 2);
  assert.equal(sum('chatd_auth_refused_total'), 3);
  assert.match(m.text, /# TYPE chatd_auth_refused_total counter/);
  // Whole-daemon (README "Metrics"): one series per reason, no worker labels.
  assert.match(m.text, /^chatd_auth_refused_total\{reason="signature"\} 0$/m);
});

test('--check-config refuses a key file that is missing or holds no key, with its line', TIMEOUT, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-auth-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'chatd.yaml');
  for (const [yaml, want] of [
    [`auth:\n  enabled: true\n  secret_file: ${path.join(dir, 'absent')}\n`, /chatd\.yaml:3: auth\.secret_file: .*absent: cannot open/],
    [`auth:\n  enabled: true\n  algorithms: [ES256]\n  public_key_file: ${fixturePath('rsa_public.pem')}\n`,
      /chatd\.yaml:4: auth\.public_key_file: no key in it can verify ES256/],
  ]) {
    fs.writeFileSync(file, yaml);
    const r = spawnSync(chatdBinary(), ['--check-config', '--config', file], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, want);
  }
});
