'use strict';
// chatd on etc/conformance.yaml's settings (its values, on a free port and the test's own Redis)
// checked against the Engine.IO v4 and Socket.IO v5 specifications, everything the published
// engine.io-protocol and socket.io-protocol test suites check (README "Conformance"): written
// from the specifications with raw HTTP and raw WebSocket, not copied from the suites.
//   - Engine.IO, on the raw echo endpoint (/engine.io/) and on /socket.io/: handshakes and their
//     errors, messages over polling and WebSocket (text, several, binary), bad packets, a second
//     GET, the heartbeat and its timeout at exactly pingInterval + pingTimeout, the close packet,
//     the upgrade, and what a request with the sid gets afterwards (a second WebSocket: 101, then
//     closed without a status code).
//   - Socket.IO, on the echo namespaces "/" and "/custom": CONNECT with and without auth, the
//     `auth` event, an unknown namespace, DISCONNECT, message/message-back with several
//     arguments and binary attachments, acks (text and binary), bad packets closing.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { scope, httpRequest, sleep, isReference } = require('./lib/harness');
const { assertEioError } = require('./lib/polling');
const { openWebSocket, rawHttp, upgradeRequest } = require('./lib/rawws');

// The seed's reference server has neither the raw echo endpoint nor the echo application.
const TIMEOUT = { timeout: 120_000, skip: isReference && 'chatd engineio.echo_path and the echo app' };
const SOURCE_DIR = process.env.CHATD_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const EIO = '/engine.io/';
const SIO = '/socket.io/';

// etc/conformance.yaml as a JS object, for the harness to write back: the file is plain block
// mappings of scalars and one flow list, which is all this reads.
function loadShippedConfig() {
  const text = fs.readFileSync(path.join(SOURCE_DIR, 'etc', 'conformance.yaml'), 'utf8');
  const root = {};
  const stack = [{ indent: -1, node: root }];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '');
    if (!line.trim()) continue;
    const indent = line.length - line.trimStart().length;
    const m = /^(\S+?):(?:\s+(.*))?$/.exec(line.trim());
    assert.ok(m, `etc/conformance.yaml: cannot read ${JSON.stringify(raw)}`);
    while (stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].node;
    if (m[2] === undefined) {
      parent[m[1]] = {};
      stack.push({ indent, node: parent[m[1]] });
    } else {
      const v = m[2].trim();
      parent[m[1]] = v.startsWith('[') || v.startsWith('"') ? JSON.parse(v) : v;
    }
  }
  return root;
}

async function world(t) {
  const shipped = loadShippedConfig();
  const { listen, redis: redisSection, workers, ...config } = shipped;
  void listen; // a free port on 127.0.0.1 instead of 3000 on every address
  void redisSection;
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: Number(workers), redisUrl: redis.url, config });
  return { s, port: server.port, shipped };
}

const assertError = assertEioError;

// Long-polling by hand on either endpoint.
function get(port, base, query, opts = {}) {
  return httpRequest(port, { path: `${base}?${query}`, timeout: 5000, ...opts });
}
function poll(port, base, sid, opts) {
  return get(port, base, `EIO=4&transport=polling&sid=${sid}`, opts);
}
function post(port, base, sid, body) {
  return httpRequest(port, {
    method: 'POST', path: `${base}?EIO=4&transport=polling&sid=${sid}`, body,
    headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
  });
}
async function pollingSession(port, base) {
  const res = await get(port, base, 'EIO=4&transport=polling');
  assert.equal(res.status, 200, `polling handshake on ${base}: ${res.body}`);
  assert.ok(res.body.startsWith('0'), `open packet: ${res.body}`);
  return { sid: JSON.parse(res.body.slice(1)).sid, res, at: Date.now() };
}

function assertOpenPacket(text, upgrades) {
  assert.ok(text.startsWith('0'), `open packet: ${text}`);
  const open = JSON.parse(text.slice(1));
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.equal(typeof open.sid, 'string');
  assert.deepEqual(open.upgrades, upgrades);
  assert.equal(open.pingInterval, PING_INTERVAL);
  assert.equal(open.pingTimeout, PING_TIMEOUT);
  assert.equal(open.maxPayload, 1000000);
  return open;
}

// A WebSocket whose open packet was read; pings are left to the caller.
async function wsSession(s, port, base, query = '') {
  const ws = s.track(await openWebSocket(port, { path: `${base}?EIO=4&transport=websocket${query}` }));
  const open = (await ws.next()).text;
  return { ws, open };
}
const notPing = (m) => m.text !== '2';
const nextText = async (ws, what) => {
  const m = await ws.next({ match: notPing, label: what });
  assert.equal(m.opcode, 0x1, `${what}: a text frame`);
  return m.text;
};

// A Socket.IO connection on "/" over WebSocket, CONNECT answered and `auth` read.
async function sioConnection(s, port) {
  const { ws } = await wsSession(s, port, SIO);
  ws.sendText('40');
  assert.match(await nextText(ws, 'CONNECT reply'), /^40\{"sid":"[^"]+"\}$/);
  assert.equal(await nextText(ws, 'auth'), '42["auth",{}]');
  return ws;
}

const PLACEHOLDERS = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}';

test('conformance: Engine.IO v4 and Socket.IO v5 on etc/conformance.yaml', TIMEOUT, async (t) => {
  const { s, port, shipped } = await world(t);

  await t.test('the shipped file is what the suites need', () => {
    assert.equal(shipped.listen.port, '3000');
    assert.equal(shipped.engineio.echo_path, EIO);
    assert.deepEqual(shipped.engineio.allowed_origins, ['*']);
    assert.deepEqual(Object.keys(shipped.namespaces), ['/', '/custom']);
    for (const ns of Object.values(shipped.namespaces)) assert.equal(ns.app, 'echo');
  });

  for (const base of [EIO, SIO]) {
    await t.test(`${base} polling handshake: 200, the open packet with upgrades ["websocket"], 300/200/1000000`, async () => {
      const { res } = await pollingSession(port, base);
      assertOpenPacket(res.body, ['websocket']);
    });

    await t.test(`${base} polling handshake errors: EIO missing or not 4, transport missing or unknown, a POST or PUT without sid`, async () => {
      assertError(await get(port, base, 'transport=polling'), 5, 'no EIO');
      assertError(await get(port, base, 'EIO=abc&transport=polling'), 5, 'EIO=abc');
      assertError(await get(port, base, 'EIO=4'), 0, 'no transport');
      assertError(await get(port, base, 'EIO=4&transport=abc'), 0, 'transport=abc');
      assertError(await get(port, base, 'EIO=4&transport=polling', { method: 'POST' }), 2, 'POST');
      assertError(await get(port, base, 'EIO=4&transport=polling', { method: 'PUT' }), 2, 'PUT');
    });

    await t.test(`${base} WebSocket handshake: the open packet with upgrades []`, async () => {
      const { open } = await wsSession(s, port, base);
      assertOpenPacket(open, []);
    });

    await t.test(`${base} WebSocket handshake errors: no 101, the connection closed`, async () => {
      for (const q of ['transport=websocket', 'EIO=abc&transport=websocket', 'EIO=4', 'EIO=4&transport=abc']) {
        const res = await rawHttp(port, upgradeRequest(`${base}?${q}`));
        assert.equal(res.status, 400, `${q}: ${JSON.stringify(res.raw.slice(0, 120))}`);
      }
    });

    await t.test(`${base} heartbeat over polling: a ping per interval, answered by a POSTed pong`, async () => {
      const { sid } = await pollingSession(port, base);
      for (let i = 0; i < 3; i++) {
        const got = await poll(port, base, sid);
        assert.equal(got.status, 200);
        assert.equal(got.body, '2', `ping ${i}`);
        const pong = await post(port, base, sid, '3');
        assert.equal(pong.status, 200, `pong ${i}: ${pong.body}`);
      }
    });

    await t.test(`${base} heartbeat over polling: a client back at pingInterval + pingTimeout finds its session gone (400 code 1)`, async () => {
      // Several at once, so the check does not rest on one lucky phase of the server's 10 ms
      // timer wheel.
      await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
        await sleep(i * 3);
        const { sid, at } = await pollingSession(port, base);
        await sleep(PING_INTERVAL + PING_TIMEOUT - (Date.now() - at));
        assertError(await poll(port, base, sid), 1, `GET ${i} at ${Date.now() - at} ms`);
      }));
      const { sid, at } = await pollingSession(port, base);
      await sleep(PING_INTERVAL + PING_TIMEOUT - (Date.now() - at));
      assertError(await post(port, base, sid, '2'), 1, 'a POST at the deadline');
    });

    await t.test(`${base} heartbeat over polling: a GET held at the deadline gets the close packet then`, async () => {
      const { sid, at } = await pollingSession(port, base);
      assert.equal((await poll(port, base, sid)).body, '2', 'the ping, not answered');
      const held = await poll(port, base, sid);
      const elapsed = Date.now() - at;
      assert.equal(held.status, 200);
      assert.equal(held.body, '1');
      assert.ok(elapsed >= PING_INTERVAL + PING_TIMEOUT - 5 && elapsed < PING_INTERVAL + PING_TIMEOUT + 100,
        `answered ${elapsed} ms after the handshake`);
    });

    await t.test(`${base} heartbeat over WebSocket: pings answered keep it; a client that does not answer is closed`, async () => {
      const { ws } = await wsSession(s, port, base);
      for (let i = 0; i < 3; i++) {
        assert.equal((await ws.next({ timeout: 1000 })).text, '2', `ping ${i}`);
        ws.sendText('3');
      }
      ws.close();
      const silent = await wsSession(s, port, base);
      const at = Date.now();
      await silent.ws.waitClosed({ timeout: 2000 });
      assert.ok(Date.now() - at < PING_INTERVAL + PING_TIMEOUT + 150, `closed after ${Date.now() - at} ms`);
    });

    await t.test(`${base} the close packet: over polling the held GET gets a noop and the sid is gone; over WebSocket it closes`, async () => {
      const { sid } = await pollingSession(port, base);
      const [held, closing] = await Promise.all([poll(port, base, sid), sleep(20).then(() => post(port, base, sid, '1'))]);
      assert.equal(closing.status, 200);
      assert.equal(held.status, 200);
      assert.equal(held.body, '6');
      assertError(await poll(port, base, sid), 1, 'GET after the close');
      const { ws } = await wsSession(s, port, base);
      ws.sendText('1');
      await ws.waitClosed({ timeout: 2000 });
    });

    await t.test(`${base} a second concurrent GET: 400, the first gets the close packet, the sid is gone`, async () => {
      const { sid } = await pollingSession(port, base);
      const [first, second] = await Promise.all([poll(port, base, sid), sleep(5).then(() => poll(port, base, sid))]);
      assert.equal(first.status, 200);
      assert.equal(first.body, '1');
      assert.ok([400, 500].includes(second.status), `second GET: ${second.status}`);
      assertError(await poll(port, base, sid), 1, 'GET afterwards');
    });
  }

  await t.test('raw echo over polling: one text packet, several, text and binary, as sent', async () => {
    for (const body of ['4hello', '4test1\x1e4test2\x1e4test3', '4hello\x1ebAQIDBA==']) {
      const { sid } = await pollingSession(port, EIO);
      const pushed = await post(port, EIO, sid, body);
      assert.equal(pushed.status, 200);
      assert.equal(pushed.body, 'ok');
      const got = await poll(port, EIO, sid);
      assert.equal(got.status, 200);
      assert.equal(got.body, body);
    }
  });

  await t.test('raw echo over polling: an invalid packet closes the session', async () => {
    const { sid } = await pollingSession(port, EIO);
    const pushed = await post(port, EIO, sid, 'abc');
    assert.ok([200, 400].includes(pushed.status), `POST abc: ${pushed.status}`);
    assertError(await poll(port, EIO, sid), 1, 'GET after the bad packet');
  });

  await t.test('raw echo over WebSocket: a text packet and a binary message, as sent; an invalid packet closes', async () => {
    const { ws } = await wsSession(s, port, EIO);
    ws.sendText('4hello');
    assert.equal(await nextText(ws, 'text echo'), '4hello');
    ws.sendBinary(Buffer.from([1, 2, 3, 4]));
    const bin = await ws.next({ match: notPing });
    assert.equal(bin.opcode, 0x2);
    assert.deepEqual([...bin.data], [1, 2, 3, 4]);
    ws.sendText('abc');
    await ws.waitClosed({ timeout: 2000 });
  });

  await t.test('upgrade: probe, a noop for the GET, "5", then messages on the WebSocket', async () => {
    const { sid } = await pollingSession(port, EIO);
    const ws = s.track(await openWebSocket(port, { path: `${EIO}?EIO=4&transport=websocket&sid=${sid}` }));
    ws.sendText('2probe');
    assert.equal(await nextText(ws, 'probe answer'), '3probe');
    const got = await poll(port, EIO, sid);
    assert.equal(got.status, 200);
    assert.equal(got.body, '6');
    ws.sendText('5');
    ws.sendText('4hello');
    assert.equal(await nextText(ws, 'echo after the upgrade'), '4hello');
  });

  await t.test('after the upgrade: a polling request gets 400 code 3; a second WebSocket gets 101 and is closed without a status code; the first goes on', async () => {
    const { sid } = await pollingSession(port, EIO);
    const ws = s.track(await openWebSocket(port, { path: `${EIO}?EIO=4&transport=websocket&sid=${sid}` }));
    ws.sendText('2probe');
    // A second WebSocket while the upgrade is under way is closed the same way.
    const during = s.track(await openWebSocket(port, { path: `${EIO}?EIO=4&transport=websocket&sid=${sid}` }));
    await during.waitClosed({ timeout: 2000 });
    assert.deepEqual(during.closeFrame, { code: null, reason: '' }, 'a WebSocket during the upgrade');
    ws.sendText('5');
    assert.equal(await nextText(ws, 'probe answer'), '3probe');
    await sleep(50);
    assertError(await poll(port, EIO, sid), 3, 'GET after the upgrade');
    const second = s.track(await openWebSocket(port, { path: `${EIO}?EIO=4&transport=websocket&sid=${sid}` }));
    await second.waitClosed({ timeout: 2000 });
    assert.deepEqual(second.closeFrame, { code: null, reason: '' }, 'a WebSocket after the upgrade');
    assert.equal(second.messages.length, 0);
    ws.sendText('4hello');
    assert.equal(await nextText(ws, 'echo on the first WebSocket'), '4hello');
    const unknown = await rawHttp(port, upgradeRequest(`${EIO}?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA`));
    assert.equal(unknown.status, 400, 'an unknown sid is refused before the handshake');
    assert.equal(unknown.body, 'Session ID unknown');
  });

  await t.test('Socket.IO CONNECT to "/" and "/custom", without and with an auth payload: {sid} then the auth event', async () => {
    for (const [packet, reply, auth] of [
      ['40', '40', '42["auth",{}]'],
      ['40{"token":"123"}', '40', '42["auth",{"token":"123"}]'],
      ['40/custom,', '40/custom,', '42/custom,["auth",{}]'],
      ['40/custom,{"token":"abc"}', '40/custom,', '42/custom,["auth",{"token":"abc"}]'],
    ]) {
      const { ws } = await wsSession(s, port, SIO);
      ws.sendText(packet);
      const text = await nextText(ws, `reply to ${packet}`);
      assert.ok(text.startsWith(reply), `${packet} -> ${text}`);
      const payload = JSON.parse(text.slice(reply.length));
      assert.deepEqual(Object.keys(payload), ['sid']);
      assert.equal(typeof payload.sid, 'string');
      assert.equal(await nextText(ws, `auth after ${packet}`), auth);
      ws.close();
    }
  });

  await t.test('Socket.IO: an unknown namespace gets CONNECT_ERROR Invalid namespace; a bad first packet closes', async () => {
    const { ws } = await wsSession(s, port, SIO);
    ws.sendText('40/random');
    assert.equal(await nextText(ws, 'CONNECT_ERROR'), '44/random,{"message":"Invalid namespace"}');
    const bad = await wsSession(s, port, SIO);
    bad.ws.sendText('4abc');
    await bad.ws.waitClosed({ timeout: 2000 });
  });

  await t.test('Socket.IO DISCONNECT: of "/" keeps the connection (the next packet is a ping); of "/custom" keeps "/"', async () => {
    const ws = await sioConnection(s, port);
    ws.sendText('41');
    assert.equal((await ws.next({ timeout: 1000 })).text, '2');
    const ws2 = await sioConnection(s, port);
    ws2.sendText('40/custom');
    assert.match(await nextText(ws2, 'CONNECT /custom'), /^40\/custom,\{"sid":/);
    assert.equal(await nextText(ws2, 'auth on /custom'), '42/custom,["auth",{}]');
    ws2.sendText('41/custom');
    ws2.sendText('42["message","message to main namespace",1,2]');
    assert.equal(await nextText(ws2, 'message-back'), '42["message-back","message to main namespace",1,2]');
  });

  await t.test('Socket.IO message: several arguments come back as message-back; with an ack id, acked with them', async () => {
    const ws = await sioConnection(s, port);
    ws.sendText('42["message",1,"2",{"3":[true]}]');
    assert.equal(await nextText(ws, 'message-back'), '42["message-back",1,"2",{"3":[true]}]');
    ws.sendText('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await nextText(ws, 'ack'), '43456[1,"2",{"3":[false]}]');
  });

  await t.test('Socket.IO binary: attachments come back with message-back, and with a binary ack', async () => {
    for (const [head, expected] of [
      [`452-["message",1,${PLACEHOLDERS}]`, `452-["message-back",1,${PLACEHOLDERS}]`],
      [`452-789["message-with-ack",1,${PLACEHOLDERS}]`, `462-789[1,${PLACEHOLDERS}]`],
    ]) {
      const ws = await sioConnection(s, port);
      ws.sendText(head);
      ws.sendBinary(Buffer.from([1, 2, 3]));
      ws.sendBinary(Buffer.from([4, 5, 6]));
      assert.equal(await nextText(ws, `answer to ${head}`), expected);
      const a = await ws.next({ match: notPing });
      const b = await ws.next({ match: notPing });
      assert.equal(a.opcode, 0x2);
      assert.equal(b.opcode, 0x2);
      assert.deepEqual([[...a.data], [...b.data]], [[1, 2, 3], [4, 5, 6]]);
      ws.close();
    }
  });

  await t.test('Socket.IO bad packets close the connection: unknown type, a payload that is not an array, a bad ack id', async () => {
    for (const packet of ['4abc', '42{}', '42abc["message-with-ack",1,"2",{"3":[false]}]']) {
      const ws = await sioConnection(s, port);
      ws.sendText(packet);
      await ws.waitClosed({ timeout: 2000 });
    }
  });
});
