'use strict';
// The abuse limits (limits: in etc/chatd.yaml) and the WebSocket Origin check, each refused the
// documented way and counted in /metrics, while other clients go on. Per-IP limits are exercised
// from distinct loopback source addresses (127.0.0.x). Small and bounded: a few clients each.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, waitFor, httpRequest, getMetrics, expectConnectError, sleep, isReference } = require('./lib/harness');
const { rawHttp, upgradeRequest, openEngineIO } = require('./lib/rawws');

const TIMEOUT = { timeout: 30_000, skip: isReference && 'chatd\'s own limits' };

async function world(t, limits, extra = {}) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 1, redisUrl: redis.url, config: { limits, ...extra } });
  return { s, server };
}

async function counter(port, name) {
  const m = await getMetrics(port);
  return m.samples.filter((x) => x.name === name).reduce((n, x) => n + x.value, 0);
}

async function expectCounter(port, name, atLeast) {
  await waitFor(async () => (await counter(port, name)) >= atLeast,
    { timeout: 3000, message: async () => `${name} >= ${atLeast}, got ${await counter(port, name)}` });
}

test('a WebSocket from an origin not in allowed_origins gets 403 code 4; no Origin, or a listed one, passes', TIMEOUT, async (t) => {
  const { server } = await world(t, {}, { engineio: { allowed_origins: ['http://good.example'] } });
  const ws = '/socket.io/?EIO=4&transport=websocket';
  const evil = await rawHttp(server.port, upgradeRequest(ws, { headers: { Origin: 'http://evil.example' } }));
  assert.equal(evil.status, 403, evil.raw.slice(0, 300));
  assert.equal(evil.body, '{"code":4,"message":"Forbidden"}');
  assert.match(evil.headers['content-type'], /^application\/json/);
  assert.equal(evil.headers.connection, 'close');

  for (const headers of [{ Origin: 'http://good.example' }, {}]) {
    const ok = await rawHttp(server.port, upgradeRequest(ws, { headers }), { timeout: 500 });
    assert.equal(ok.status, 101, `${JSON.stringify(headers)}: ${ok.raw.slice(0, 200)}`);
  }

  // The upgrade of a polling session is checked the same way, before its sid.
  const open = await httpRequest(server.port, { path: '/socket.io/?EIO=4&transport=polling' });
  const sid = JSON.parse(open.body.slice(1)).sid;
  const up = await rawHttp(server.port, upgradeRequest(`${ws}&sid=${sid}`, { headers: { Origin: 'http://evil.example' } }));
  assert.equal(up.status, 403, up.raw.slice(0, 300));
  assert.equal(up.body, '{"code":4,"message":"Forbidden"}');
  await expectCounter(server.port, 'chatd_origin_refused_total', 2);
});

test('over message_rate the extra messages are dropped and the sender told once', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { message_rate: 5, message_burst: 5 });
  const a = await s.client(server.url, { channel: 'rate', userId: 'a' });
  const b = await s.client(server.url, { channel: 'rate', userId: 'b' });
  const got = collect(b, 'chat');
  const errors = collect(a, 'error');
  for (let i = 0; i < 20; i++) a.emit('message', { i });
  await errors.waitCount(1);
  assert.equal(errors.items[0].message, 'rate limited');
  assert.equal(errors.items[0].action, 'drop');
  await got.waitCount(5);
  await sleep(300);
  assert.ok(got.items.length <= 7, `at most the burst (and what refilled) delivered, got ${got.items.length}`);
  assert.equal(errors.items.length, 1, 'told once per burst over the limit');
  assert.ok(a.connected, 'the sender stays connected with action drop');
  await expectCounter(server.port, 'chatd_limit_rate_dropped_total', 13);
});

test('over message_rate with action disconnect the sender is told, then disconnected', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { message_rate: 2, message_burst: 2, message_rate_action: 'disconnect' });
  const a = await s.client(server.url, { channel: 'rate2', userId: 'a' });
  const errors = collect(a, 'error');
  const gone = new Promise((resolve) => a.on('disconnect', resolve));
  for (let i = 0; i < 5; i++) a.emit('message', { i });
  assert.equal(await gone, 'io server disconnect');
  assert.equal(errors.items[0]?.message, 'rate limited');
  await expectCounter(server.port, 'chatd_limit_rate_dropped_total', 1);
});

test('rooms per source IP: at once and per minute, refused with CONNECT_ERROR; other IPs go on', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { rooms_per_ip: 2, rooms_per_ip_per_minute: 3 });
  const from = (localAddress, channel) => ({ channel, userId: 'u', localAddress });
  const r1 = await s.client(server.url, from('127.0.0.2', 'r1'));
  await s.client(server.url, from('127.0.0.2', 'r2'));
  await s.client(server.url, from('127.0.0.3', 'r2'));  // not new to the worker: free
  let err = await expectConnectError(server.url, from('127.0.0.2', 'r3'));
  assert.equal(err.message, 'too many rooms opened from this address (limit 2)');
  await s.client(server.url, from('127.0.0.4', 'r3'));  // another address

  // r1 closes with its only member; then a third new room fits at once but spends
  // the minute's budget (3).
  r1.close();
  await waitFor(async () => {
    try {
      (await s.client(server.url, from('127.0.0.2', 'r4'))).close();
      return true;
    } catch (e) {
      return false;
    }
  }, { timeout: 3000, message: 'r4 to open once r1 had no member from 127.0.0.2' });
  await sleep(100);
  err = await expectConnectError(server.url, from('127.0.0.2', 'r5'));
  assert.match(err.message, /too many (new )?rooms/);
  await expectCounter(server.port, 'chatd_limit_rooms_refused_total', 2);
});

test('a channel or userId too long or with control characters gets CONNECT_ERROR', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { max_channel_length: 8, max_user_id_length: 4 });
  const cases = [
    [{ channel: 'abcdefghi', userId: 'u' }, 'channel is longer than 8 characters'],
    [{ channel: 'ok', userId: 'abcde' }, 'userId is longer than 4 characters'],
    [{ channel: 'a\nb', userId: 'u' }, 'channel contains a control character'],
    [{ channel: 'ok', userId: 'u\u0001' }, 'userId contains a control character'],
  ];
  for (const [query, message] of cases) {
    const err = await expectConnectError(server.url, query);
    assert.equal(err.message, message, JSON.stringify(query));
  }
  await s.client(server.url, { channel: 'caf\u00e9s', userId: '\u{1F600}' });
  // (Invalid UTF-8 cannot get this far: percent-decoding repairs it to U+FFFD, as Node does;
  // the check itself is unit-tested.)
  await expectCounter(server.port, 'chatd_limit_bad_names_total', 4);
});

test('a connection without a complete request head within handshake_timeout is closed', TIMEOUT, async (t) => {
  const { server } = await world(t, { handshake_timeout: 300 }, { engineio: { connect_timeout: 300 } });
  const started = Date.now();
  const partial = await rawHttp(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', { timeout: 3000 });
  assert.equal(partial.status, 408, partial.raw.slice(0, 200));
  assert.ok(Date.now() - started < 2000, `closed after ${Date.now() - started} ms`);
  const silent = await rawHttp(server.port, '', { timeout: 3000 });
  assert.ok(Date.now() - started < 4000, 'a silent connection is closed too');
  assert.equal(silent.status, 408);
  // A WebSocket that never sends its Socket.IO CONNECT: engineio.connect_timeout closes it.
  const eio = await openEngineIO(server.port, { query: { channel: 'x' } });
  const closed = await eio.ws.waitClosed({ timeout: 3000 });
  assert.ok(closed.tcpClosed, 'closed by connect_timeout');
  // A complete request in time is served, on a keep-alive connection too.
  assert.equal((await httpRequest(server.port, { path: '/healthz' })).status, 200);
  await expectCounter(server.port, 'chatd_limit_handshake_timeouts_total', 2);
});

test('connections per source IP over max_connections_per_ip get 503; other IPs go on', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { max_connections_per_ip: 2 });
  const a = await s.client(server.url, { channel: 'ip', userId: 'a', localAddress: '127.0.0.5' });
  await s.client(server.url, { channel: 'ip', userId: 'b', localAddress: '127.0.0.5' });
  const res = await httpRequest(server.port, { path: '/healthz', localAddress: '127.0.0.5' });
  assert.equal(res.status, 503);
  assert.match(res.body, /too many connections from this address/);
  assert.equal(res.headers['retry-after'], '1');
  const c = await s.client(server.url, { channel: 'ip', userId: 'c', localAddress: '127.0.0.6' });
  const got = collect(c, 'chat');
  a.emit('message', { body: 'still here' });
  await got.waitCount(1);
  await expectCounter(server.port, 'chatd_limit_ip_connections_refused_total', 1);
});
