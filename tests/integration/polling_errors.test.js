'use strict';
// The long-polling transport by hand, as the Engine.IO v4 specification words it: handshake and
// content types, the JSON 400 errors, 413 over maxPayload, a second concurrent GET, the close
// packet, heartbeats and their timeout, a client that disappears mid-poll, CORS with preflight,
// and the upgrade's failure cases. Two workers: each request is a new TCP connection that the
// kernel may give to either, so most of these also cross workers by hand-over.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, waitFor, httpRequest, sleep, isReference, unstampText } = require('./lib/harness');
const { handshake, poll, post, handovers, sessionsTotal, sidSlot } = require('./lib/polling');
const { openWebSocket, rawHttp, upgradeRequest } = require('./lib/rawws');
const { assertEioError } = require('./lib/polling');

const TIMEOUT = { timeout: 60_000 };
const MAX_PAYLOAD = 10_000;
const ORIGIN = 'http://allowed.example';

async function world(t, engineio = {}) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({
    // Two chatd workers: a request may land on the worker not holding its session (hand-over).
    // The reference's Node cluster has no sticky sessions, so polling needs one worker there.
    workers: isReference ? 1 : 2,
    redisUrl: redis.url,
    config: {
      engineio: {
        ping_interval: 2000, ping_timeout: 1000, max_payload: MAX_PAYLOAD, upgrade_timeout: 500,
        allowed_origins: [ORIGIN], ...engineio,
      },
    },
  });
  return { s, server };
}

const assertError = assertEioError;

test('polling handshake, GET, POST and their errors', TIMEOUT, async (t) => {
  const { server } = await world(t);
  const port = server.port;

  await t.test('the handshake GET: open packet with upgrades ["websocket"], text/plain, no-store', async () => {
    const { open, res } = await handshake(port);
    assert.match(res.body, /^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\["websocket"\],"pingInterval":2000,"pingTimeout":1000,"maxPayload":10000\}$/);
    assert.equal(res.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(open.upgrades[0], 'websocket');
  });

  await t.test('handshake errors: transport, EIO, method', async () => {
    assertError(await httpRequest(port, { path: '/socket.io/?EIO=4&transport=carrier-pigeon' }), 0, 'unknown transport');
    assertError(await httpRequest(port, { path: '/socket.io/?EIO=3&transport=polling' }), 5, 'EIO=3');
    assertError(await httpRequest(port, { path: '/socket.io/?transport=polling' }), 5, 'no EIO');
    assertError(await httpRequest(port, { method: 'POST', path: '/socket.io/?EIO=4&transport=polling', body: '40' }), 2, 'POST without sid');
  });

  await t.test('an unknown sid, on either worker: 400 code 1', async () => {
    for (const sid of ['AAAAAAAAAAAAAAAAAAAA', 'BAAAAAAAAAAAAAAAAAAA', 'not-a-sid']) {
      assertError(await poll(port, sid), 1, `GET sid ${sid}`);
      assertError(await post(port, sid, '40'), 1, `POST sid ${sid}`);
    }
  });

  await t.test('POST answers ok (text/html), the CONNECT reply comes on the next GET', async () => {
    const { sid } = await handshake(port, { query: { channel: 'r', userId: 'u' } });
    const res = await post(port, sid, '40');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    assert.match(res.headers['content-type'], /^text\/html/);
    const got = await poll(port, sid);
    assert.match(got.packets[0], /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
  });

  await t.test('several packets in one POST, several in one GET', async () => {
    const { sid } = await handshake(port, { query: { channel: 'batch', userId: 'u' } });
    assert.equal((await post(port, sid, '40\x1e42["message",{"n":1}]\x1e42["ignored"]')).body, 'ok');
    const other = await handshake(port, { query: { channel: 'batch', userId: 'v' } });
    await post(port, other.sid, '40');
    await poll(port, other.sid); // its CONNECT reply
    await post(port, sid, '42["message",{"n":2}]\x1e42["message",{"n":3}]');
    await settle();
    const got = await poll(port, other.sid);
    assert.deepEqual(got.packets.map(unstampText), ['42["chat",{"n":2}]', '42["chat",{"n":3}]']);
  });

  await t.test('a POST above maxPayload: 413', async () => {
    const { sid } = await handshake(port);
    const res = await post(port, sid, `4${'x'.repeat(MAX_PAYLOAD + 1)}`);
    assert.equal(res.status, 413);
  });

  await t.test('a binary (application/octet-stream) POST: 400', async () => {
    const { sid } = await handshake(port);
    const res = await post(port, sid, '40', { headers: { 'Content-Type': 'application/octet-stream' } });
    assertError(res, 3, 'octet-stream POST');
  });

  await t.test('an unknown method on a live sid: 500', async () => {
    const { sid } = await handshake(port);
    const res = await httpRequest(port, { method: 'PUT', path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, body: 'x' });
    assert.equal(res.status, 500);
  });

  await t.test('binary packets from the client: b + base64 in a POST', async () => {
    const a = await handshake(port, { query: { channel: 'bin', userId: 'a' } });
    await post(port, a.sid, '40');
    await poll(port, a.sid);
    // An attachment-carrying event must be relayed on a's own worker: b is opened until it is.
    let b = null;
    for (let i = 0; i < 30 && !b; i++) {
      const c = await handshake(port, { query: { channel: 'bin', userId: `b${i}` } });
      if (sidSlot(c.sid) === sidSlot(a.sid)) b = c;
    }
    assert.ok(b, 'a second session on the same worker');
    await post(port, b.sid, '40');
    await poll(port, b.sid);
    await settle();
    const res = await post(port, a.sid, '451-["message",{"f":{"_placeholder":true,"num":0}}]\x1ebAQIDBA==');
    assert.equal(res.body, 'ok');
    const got = await poll(port, b.sid);
    assert.deepEqual(got.packets.map(unstampText), ['451-["chat",{"f":{"_placeholder":true,"num":0}}]', 'bAQIDBA==']);

    // A placeholder naming an attachment that is not there: socket.io-parser refuses the packet
    // ("illegal attachments"), so the sender's session ends and nobody gets it.
    const bad = await post(port, a.sid, '451-["message",{"f":{"_placeholder":true,"num":3}}]\x1ebAQIDBA==');
    assert.equal(bad.status, 200);
    const after = await poll(port, b.sid);
    assert.deepEqual(after.packets.filter((p) => p.startsWith('45')), [], 'the illegal packet reached nobody');
    await settle();
    const gone = await poll(port, a.sid);
    assert.ok(gone.status === 400 || (gone.packets ?? []).includes('1'), `the sender's session ended (${gone.status} ${gone.body})`);
  });
});

test('a second concurrent GET: 400, and the pending one gets the close packet', TIMEOUT, async (t) => {
  const { server } = await world(t);
  const { sid } = await handshake(server.port);
  const pending = poll(server.port, sid);
  await sleep(300); // the first GET is held by now
  assertError(await poll(server.port, sid), 3, 'the second GET');
  const first = await pending;
  assert.equal(first.status, 200);
  assert.deepEqual(first.packets, ['1']);
  assertError(await poll(server.port, sid), 1, 'the session is gone');
});

test('a close packet makes the pending GET return a noop, and ends the session', TIMEOUT, async (t) => {
  const { server } = await world(t);
  const { sid } = await handshake(server.port);
  const pending = poll(server.port, sid);
  await sleep(300);
  assert.equal((await post(server.port, sid, '1')).body, 'ok');
  const got = await pending;
  assert.deepEqual(got.packets, ['6']);
  assertError(await poll(server.port, sid), 1, 'after close');
});

test('heartbeat over polling: the held GET returns the ping; no pong closes the session', TIMEOUT, async (t) => {
  const { server } = await world(t, { ping_interval: 300, ping_timeout: 1000 });
  const { sid } = await handshake(server.port);
  const ping = await poll(server.port, sid);
  assert.deepEqual(ping.packets, ['2']);
  assert.equal((await post(server.port, sid, '3')).body, 'ok');
  assert.deepEqual((await poll(server.port, sid)).packets, ['2'], 'the next ping after the pong');
  // No pong now: the session closes; a held GET gets the close packet, later ones 400.
  const last = await poll(server.port, sid);
  assert.deepEqual(last.packets, ['1']);
  assertError(await poll(server.port, sid), 1, 'after the ping timeout');
});

test('a client that disappears mid-poll: its session ends, the others go on', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'gone', userId: 'a', transports: ['polling'] });
  const b = await s.client(server.url, { channel: 'gone', userId: 'b', transports: ['polling'] });
  const before = await sessionsTotal(server.port);
  const { sid } = await handshake(server.port, { query: { channel: 'gone', userId: 'ghost' } });
  await post(server.port, sid, '40');
  await poll(server.port, sid);
  await waitFor(async () => (await sessionsTotal(server.port)) === before + 1, { message: 'the ghost joined' });
  // Hold a GET, then vanish without a word.
  const http = require('node:http');
  const req = http.request({ host: '127.0.0.1', port: server.port, path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, agent: false });
  req.on('error', () => {});
  req.end();
  await sleep(300);
  req.destroy();
  await waitFor(async () => (await sessionsTotal(server.port)) === before, { timeout: 5000, message: 'the ghost\'s session ended' });
  assertError(await poll(server.port, sid), 1, 'the ghost\'s sid');
  const got = collect(b, 'chat');
  a.emit('message', { body: 'still fine' });
  await got.waitCount(1);
});

test('CORS from allowed_origins, with preflight; no-store on every answer', TIMEOUT, async (t) => {
  const { server } = await world(t);
  const port = server.port;
  const allowed = await handshake(port, { headers: { Origin: ORIGIN } });
  assert.equal(allowed.res.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(allowed.res.headers['access-control-allow-credentials'], 'true');
  const other = await handshake(port, { headers: { Origin: 'http://evil.example' } });
  assert.equal(other.res.headers['access-control-allow-origin'], undefined);
  const pre = await httpRequest(port, {
    method: 'OPTIONS',
    path: `/socket.io/?EIO=4&transport=polling&sid=${allowed.sid}`,
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
  assert.match(pre.headers['access-control-allow-methods'], /POST/);
  assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
  const p = await post(port, allowed.sid, '6', { headers: { Origin: ORIGIN } });
  assert.equal(p.headers['access-control-allow-origin'], ORIGIN);
  assert.equal(p.headers['cache-control'], 'no-store');
  assertError(await poll(port, 'AAAAAAAAAAAAAAAAAAAA'), 1, 'unknown sid');
});

test('upgrade failures: unknown sid, no probe within upgrade_timeout, a second WebSocket', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const port = server.port;
  const unknown = await rawHttp(port, upgradeRequest('/socket.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA'));
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body, 'Session ID unknown');

  // A probe that never sends "5": closed after upgrade_timeout; polling goes on.
  const { sid } = await handshake(port, { query: { channel: 'u', userId: 'slow' } });
  const ws = s.track(await openWebSocket(port, { path: `/socket.io/?EIO=4&transport=websocket&sid=${sid}` }));
  ws.sendText('2probe');
  assert.equal((await ws.next()).text, '3probe');
  await ws.waitClosed({ timeout: 3000 });
  assert.equal((await post(port, sid, '40')).body, 'ok', 'still polling after the failed upgrade');
  const got = await poll(port, sid);
  assert.match(got.packets.join('|'), /40\{"sid"/);

  // A completed upgrade; then another WebSocket for the sid completes its handshake and is closed
  // at once with a close frame without a status code (engine.io's onWebSocket: ws.close()), and
  // polling is 400.
  const ws2 = s.track(await openWebSocket(port, { path: `/socket.io/?EIO=4&transport=websocket&sid=${sid}` }));
  ws2.sendText('2probe');
  assert.equal((await ws2.next()).text, '3probe');
  ws2.sendText('5');
  ws2.sendText('42["message",{"x":1}]');
  await settle();
  const third = s.track(await openWebSocket(port, { path: `/socket.io/?EIO=4&transport=websocket&sid=${sid}` }));
  await third.waitClosed({ timeout: 3000 });
  assert.deepEqual(third.closeFrame, { code: null, reason: '' }, 'a second WebSocket for an upgraded sid');
  assert.equal(third.messages.length, 0, 'the second WebSocket carries nothing');
  assertError(await poll(port, sid), 3, 'polling after the upgrade');
  if (!isReference) t.diagnostic(`connections handed over in this test: ${await handovers(port)}`);
});
