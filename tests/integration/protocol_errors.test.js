'use strict';
// The protocol edges: the HTTP surface and its Engine.IO handshake errors, Engine.IO and Socket.IO
// handshakes byte for byte, unknown namespaces and a missing channel, malformed WebSocket frames
// (the right close codes), malformed Engine.IO and Socket.IO packets (each closes its own
// connection only), and the server-side heartbeat.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, waitFor, httpRequest, getMetrics, expectConnectError, isReference, unstampText } = require('./lib/harness');
const { rawHttp, openWebSocket, openEngineIO, upgradeRequest } = require('./lib/rawws');

const TIMEOUT = { timeout: 60_000 };
const GROUP_TIMEOUT = { timeout: 150_000 }; // a test whose subtests each may wait up to 10 s
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 4096;

// One server for a group of checks, with both transports (the polling errors have their own
// file: polling_errors.test.js).
async function world(t, config = {}) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({
    workers: 1,
    redisUrl: redis.url,
    config,
  });
  return { s, redis, server };
}

// Two socket.io clients that must keep chatting whatever a third connection does.
async function bystanders(s, server) {
  const a = await s.client(server.url, { channel: 'calm', userId: 'a' });
  const b = await s.client(server.url, { channel: 'calm', userId: 'b' });
  const got = collect(b, 'chat');
  let n = 0;
  return {
    async stillChatting(label) {
      n++;
      a.emit('message', { userId: 'a', channel: 'calm', n });
      await got.waitFor((p) => p.n === n, { label: `bystander message ${n} after ${label}` });
      assert.ok(a.connected && b.connected, `bystanders still connected after ${label}`);
    },
  };
}

const JSON_ERRORS = {
  0: '{"code":0,"message":"Transport unknown"}',
  1: '{"code":1,"message":"Session ID unknown"}',
  3: '{"code":3,"message":"Bad request"}',
  5: '{"code":5,"message":"Unsupported protocol version"}',
};

test('HTTP surface and Engine.IO handshake errors', TIMEOUT, async (t) => {
  const { server } = await world(t);
  const get = (path, headers) => httpRequest(server.port, { path, headers });
  const expectError = async (path, code, headers) => {
    const res = await get(path, headers);
    assert.equal(res.status, 400, `${path}: status (body ${res.body})`);
    assert.match(res.headers['content-type'] || '', /^application\/json/, `${path}: content-type`);
    assert.equal(res.body, JSON_ERRORS[code], `${path}: body`);
  };

  await t.test('a long-polling handshake answers the open packet, upgrades ["websocket"]', async () => {
    const res = await get('/socket.io/?EIO=4&transport=polling');
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\["websocket"\],"pingInterval":\d+,"pingTimeout":\d+,"maxPayload":\d+\}$/);
  });
  await t.test('long-polling with an unknown sid: 400 code 1', () => expectError('/socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA', 1));
  await t.test('an unknown transport: 400 code 0', () => expectError('/socket.io/?EIO=4&transport=carrier-pigeon', 0));
  await t.test('no transport: 400 code 0', () => expectError('/socket.io/?EIO=4', 0));
  await t.test('transport=websocket without an Upgrade header: 400 code 3', () => expectError('/socket.io/?EIO=4&transport=websocket', 3));

  await t.test('EIO=3 (or no EIO) on a WebSocket upgrade is refused, no 101', { skip: isReference && 'Node\'s engine.io completes the upgrade (101) before its EIO check, then writes a raw 400 into the socket' }, async () => {
    for (const path of ['/socket.io/?EIO=3&transport=websocket', '/socket.io/?transport=websocket']) {
      const res = await rawHttp(server.port, upgradeRequest(path));
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.raw.slice(0, 300))}`);
      assert.match(res.body, /Unsupported protocol version|"code":5/, `${path}: body says why`);
    }
  });

  await t.test('other paths: 404', async () => {
    for (const path of ['/nope', '/socket.io', '/socket.iox/?EIO=4&transport=websocket', '/healthz/x']) {
      const res = await get(path);
      assert.equal(res.status, 404, `${path}: status (body ${JSON.stringify(res.body.slice(0, 200))})`);
    }
  });

  await t.test('GET /: the demo chat page (chatd only)', async () => {
    const res = await get('/');
    if (isReference) return assert.equal(res.status, 404);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.body, /<title>chatd<\/title>/);
  });

  await t.test('GET /healthz: 200 {"status":"ok",...}', async () => {
    const res = await get('/healthz');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).status, 'ok');
  });

  await t.test('GET /metrics: per-worker gauges in Prometheus text', async () => {
    const m = await getMetrics(server.port);
    assert.equal(m.status, 200);
    const conn = m.samples.filter((x) => x.name === 'chatd_connections');
    const up = m.samples.filter((x) => x.name === 'chatd_redis_up');
    assert.ok(conn.length >= 1 && conn.every((x) => x.labels.worker !== undefined), `chatd_connections{worker=...}: ${m.text.slice(0, 500)}`);
    assert.ok(up.length >= 1 && up.every((x) => x.labels.worker !== undefined), `chatd_redis_up{worker=...}: ${m.text.slice(0, 500)}`);
  });

  await t.test('a WebSocket upgrade on another path is not accepted', async () => {
    const res = await rawHttp(server.port, upgradeRequest('/nope'), { timeout: 2500 });
    assert.notEqual(res.status, 101, JSON.stringify(res.raw.slice(0, 200)));
  });

  await t.test('a garbage request gets 400 or a close, and the server goes on', async () => {
    const res = await rawHttp(server.port, 'HELLO THERE\r\n\r\n');
    assert.ok(res.status === null || res.status === 400, `status ${res.status}: ${JSON.stringify(res.raw.slice(0, 200))}`);
    assert.equal((await get('/healthz')).status, 200);
  });

  await t.test('an oversized request head is refused, and the server goes on', async () => {
    const res = await rawHttp(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assert.ok(res.status === null || (res.status >= 400 && res.status < 500), `status ${res.status}: ${JSON.stringify(res.raw.slice(0, 200))}`);
    assert.equal((await get('/healthz')).status, 200);
    // A request line and fields each under max_header_size (8 KiB) but together over it, in one
    // write: the whole head counts.
    const twoHalves = await rawHttp(server.port, `GET /healthz?${'q'.repeat(6000)} HTTP/1.1\r\nHost: x\r\nX-Half: ${'a'.repeat(6000)}\r\n\r\n`);
    assert.equal(twoHalves.status, 431, `status ${twoHalves.status}`);
  });
});

test('Engine.IO open packet and Socket.IO CONNECT reply, byte for byte', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { engineio: { ping_interval: 2000, ping_timeout: 1500, max_payload: MAX_PAYLOAD } });
  const eio = s.track(await openEngineIO(server.port, { query: { channel: 'r', userId: 'u' } }));
  assert.match(eio.openText, /^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\[\],"pingInterval":2000,"pingTimeout":1500,"maxPayload":4096\}$/);
  const reply = await eio.connect();
  const m = /^40\{"sid":"([A-Za-z0-9_-]{20})"\}$/.exec(reply);
  assert.ok(m, `CONNECT reply: ${JSON.stringify(reply)}`);
  assert.notEqual(m[1], eio.open.sid, 'the Socket.IO sid differs from the Engine.IO sid');

  // auth payload accepted
  const withAuth = s.track(await openEngineIO(server.port, { query: { channel: 'r', userId: 'v' } }));
  assert.match(await withAuth.connect({ auth: { token: 'abc' } }), /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
});

test('an unknown namespace gets CONNECT_ERROR "Invalid namespace"', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const err = await expectConnectError(server.url, { namespace: '/nope', channel: 'r', userId: 'u' });
  assert.equal(err.message, 'Invalid namespace');

  // on the wire, and the Engine.IO connection stays usable for "/"
  const eio = s.track(await openEngineIO(server.port, { query: { channel: 'r', userId: 'u' } }));
  assert.equal(await eio.connect({ nsp: '/random' }), '44/random,{"message":"Invalid namespace"}');
  assert.match(await eio.connect(), /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
});

test('a handshake without channel gets a CONNECT_ERROR that says so', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const err = await expectConnectError(server.url, { userId: 'nochannel' });
  assert.match(err.message, /channel/i, `clear message: ${JSON.stringify(err.message)}`);
  const eio = s.track(await openEngineIO(server.port, { query: { userId: 'nochannel' } }));
  const reply = await eio.connect();
  assert.match(reply, /^44\{"message":"[^"]*channel[^"]*"/i, `raw CONNECT_ERROR: ${JSON.stringify(reply)}`);
  const bs = await bystanders(s, server);
  await bs.stillChatting('a refused handshake');
});

test('malformed WebSocket frames close that connection with the right code', GROUP_TIMEOUT, async (t) => {
  const { s, server } = await world(t, { engineio: { max_payload: MAX_PAYLOAD } });
  const bs = await bystanders(s, server);
  const open = async () => {
    const eio = s.track(await openEngineIO(server.port, { query: { channel: 'calm', userId: 'bad' } }));
    await eio.connect();
    return eio;
  };
  const cases = [
    ['an unmasked frame', 1002, (ws) => ws.sendFrame({ opcode: 0x1, payload: '42["message",{}]', mask: false })],
    ['invalid UTF-8 in a text frame', 1007, (ws) => ws.sendFrame({ opcode: 0x1, payload: Buffer.from([0x34, 0x32, 0xff, 0xfe, 0xc3, 0x28]) })],
    ['a frame larger than maxPayload', 1009, (ws) => ws.sendFrame({ opcode: 0x1, payload: `4${'x'.repeat(MAX_PAYLOAD * 2)}` })],
    ['a reserved opcode', 1002, (ws) => ws.sendFrame({ opcode: 0x3, payload: 'x' })],
    ['RSV1 set without an extension', 1002, (ws) => ws.sendFrame({ opcode: 0x1, payload: '3', rsv: 4 })],
    ['a control frame over 125 bytes', 1002, (ws) => ws.sendFrame({ opcode: 0x9, payload: 'p'.repeat(126) })],
    ['a fragmented control frame', 1002, (ws) => ws.sendFrame({ opcode: 0x9, payload: 'p', fin: false })],
    ['a continuation with no message started', 1002, (ws) => ws.sendFrame({ opcode: 0x0, payload: 'x' })],
  ];
  for (const [name, code, send] of cases) {
    await t.test(`${name} -> close ${code}`, async () => {
      const eio = await open();
      send(eio.ws);
      const frame = await eio.ws.waitCloseFrame();
      assert.equal(frame.code, code, `${name}: close frame ${JSON.stringify(eio.ws.closeFrame)}`);
      await eio.waitClosed(); // the client answered the close: the server must now close TCP
      await bs.stillChatting(name);
    });
  }
});

test('a bad Engine.IO packet closes that connection only', GROUP_TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const bs = await bystanders(s, server);
  const cases = [
    ['an unknown packet type', 'x'],
    ['a digit that is no packet type', '9'],
    ['an empty text frame', ''],
    ['a ping from the client (heartbeat goes server to client in v4)', '2'],
  ];
  for (const [name, text] of cases) {
    await t.test(name, async () => {
      const eio = s.track(await openEngineIO(server.port, { query: { channel: 'calm', userId: 'bad' } }));
      await eio.connect();
      eio.send(text);
      await eio.ws.waitCloseFrame();
      await eio.waitClosed();
      await bs.stillChatting(name);
    });
  }
});

test('a bad Socket.IO packet closes that connection only', GROUP_TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const bs = await bystanders(s, server);
  const cases = [
    ['an EVENT that is not an array', '42{"not":"an array"}'],
    ['an EVENT with an empty array', '42[]'],
    ['an EVENT with broken JSON', '42["message",{"a":'],
    ['an EVENT named after a reserved event', '42["connect",{}]'],
    ['an EVENT whose name is an object', '42[{"a":1},2]'],
    ['an unknown Socket.IO packet type', '49["x"]'],
    ['a DISCONNECT with a payload', '41{"a":1}'],
    ['an ACK that is not an array', '431{"a":1}'],
  ];
  for (const [name, packet] of cases) {
    await t.test(`${name}: ${packet}`, async () => {
      const eio = s.track(await openEngineIO(server.port, { query: { channel: 'calm', userId: 'bad' } }));
      await eio.connect();
      eio.send(packet);
      await eio.ws.waitCloseFrame();
      await eio.waitClosed();
      await bs.stillChatting(name);
    });
  }
  await t.test('an EVENT before CONNECT', async () => {
    const eio = s.track(await openEngineIO(server.port, { query: { channel: 'calm', userId: 'bad' } }));
    eio.send('42["message",{"body":"too early"}]');
    await eio.ws.waitCloseFrame();
    await eio.waitClosed();
    await bs.stillChatting('an EVENT before CONNECT');
  });
});

test('a client DISCONNECT leaves the room and keeps the Engine.IO connection', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { engineio: { ping_interval: PING_INTERVAL, ping_timeout: PING_TIMEOUT } });
  const a = await s.client(server.url, { channel: 'r', userId: 'a' });
  const eio = s.track(await openEngineIO(server.port, { query: { channel: 'r', userId: 'raw' } }));
  await eio.connect();
  a.emit('message', { n: 1 });
  assert.equal(unstampText(await eio.next({ label: 'chat 1', match: (x) => x.startsWith('42') })), '42["chat",{"n":1}]');
  eio.send('41');
  await settle();
  a.emit('message', { n: 2 });
  const pingsBefore = eio.pings;
  await waitFor(() => eio.pings >= pingsBefore + 2, { message: 'pings go on after DISCONNECT: the Engine.IO connection stays' });
  assert.equal(eio.ws.messages.filter((m) => m.text && m.text.startsWith('42["chat"')).length, 1, 'no chat after leaving');
  assert.equal(eio.ws.tcpClosed, false);
  assert.match(await eio.connect(), /^40\{"sid":/);
  a.emit('message', { n: 3 });
  assert.equal(unstampText(await eio.next({ label: 'chat 3', match: (x) => x.startsWith('42') })), '42["chat",{"n":3}]');
});

test('heartbeat: pings every pingInterval, socket.io-client answers and stays connected', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { engineio: { ping_interval: PING_INTERVAL, ping_timeout: PING_TIMEOUT } });
  const a = await s.client(server.url, { channel: 'hb', userId: 'a' });
  const b = await s.client(server.url, { channel: 'hb', userId: 'b' });
  let pings = 0;
  a.io.engine.on('ping', () => pings++);
  const disconnects = [];
  a.on('disconnect', (reason) => disconnects.push(reason));
  await waitFor(() => pings >= 5, { message: () => `5 server pings (seen ${pings})` });
  assert.deepEqual(disconnects, []);
  const got = collect(b, 'chat');
  a.emit('message', { after: 'pings' });
  await got.waitCount(1);

  // a raw client that answers pings also stays
  const eio = s.track(await openEngineIO(server.port, { query: { channel: 'hb', userId: 'raw' } }));
  await eio.connect();
  await waitFor(() => eio.pings >= 4, { message: () => `4 pings to the raw client (seen ${eio.pings})` });
  assert.equal(eio.ws.tcpClosed, false, 'answered pings keep the session');
});

test('heartbeat: a client that never answers is closed after pingInterval + pingTimeout', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { engineio: { ping_interval: PING_INTERVAL, ping_timeout: PING_TIMEOUT } });
  const bs = await bystanders(s, server);
  const eio = s.track(await openEngineIO(server.port, { query: { channel: 'calm', userId: 'mute' }, autoPong: false }));
  await eio.connect();
  await eio.waitClosed({ timeout: 10_000 });
  assert.ok(eio.pings >= 1, `a ping came before the close (pings ${eio.pings})`);
  await bs.stillChatting('a ping timeout');
});

test('a WebSocket upgrade with a bad Sec-WebSocket-Version is refused', TIMEOUT, async (t) => {
  const { server } = await world(t);
  const res = await rawHttp(server.port, upgradeRequest('/socket.io/?EIO=4&transport=websocket', { headers: { 'Sec-WebSocket-Version': '99' } }));
  assert.ok(res.status === null || (res.status >= 400 && res.status < 500), `status ${res.status}: ${JSON.stringify(res.raw.slice(0, 200))}`);
  // and a correct one still works
  const ws = await openWebSocket(server.port);
  ws.destroy();
});

test('close handshake: the server answers a client close frame and then closes the TCP connection', TIMEOUT, async (t) => {
  // RFC 6455 7.1.1: after the close handshake the server closes TCP first; clients (Node's ws,
  // browsers) wait for it. The default pingInterval (25 s) cannot be what ends it here.
  const { s, server } = await world(t);
  const eio = s.track(await openEngineIO(server.port, { query: { channel: 'c', userId: 'u' } }));
  await eio.connect();
  eio.ws.sendFrame({ opcode: 0x8, payload: Buffer.from([0x03, 0xe8]) }); // close 1000; no FIN from us
  const frame = await eio.ws.waitCloseFrame();
  assert.equal(frame.code, 1000, `close reply ${JSON.stringify(eio.ws.closeFrame)}`);
  await eio.waitClosed();
});

test('SIGTERM: clients are closed (going away) and the server exits once they are gone', TIMEOUT, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  // shutdown_timeout far beyond the test's patience: only closing the clients properly lets it
  // exit in time.
  const server = await s.server({ workers: 2, redisUrl: redis.url, config: { shutdown_timeout: 60_000 } });
  const a = await s.client(server.url, { channel: 'bye', userId: 'a' });
  const b = await s.client(server.url, { channel: 'bye', userId: 'b' });
  const eio = s.track(await openEngineIO(server.port, { query: { channel: 'bye', userId: 'raw' } }));
  await eio.connect();
  const reasons = [];
  for (const c of [a, b]) c.on('disconnect', (reason) => reasons.push(reason));
  const res = await server.stop({ timeout: 20_000 });
  assert.equal(res.forced, false, `exited by itself after SIGTERM (log tail:\n${server.logTail(20)})`);
  assert.equal(res.code, 0, `exit status: ${JSON.stringify(res)}`);
  await waitFor(() => reasons.length === 2, { message: () => `both socket.io clients see the disconnect (${JSON.stringify(reasons)})` });
  await eio.waitClosed({ timeout: 5000 });
  if (!isReference) assert.equal(eio.ws.closeFrame && eio.ws.closeFrame.code, 1001, `close frame ${JSON.stringify(eio.ws.closeFrame)}`);
});
