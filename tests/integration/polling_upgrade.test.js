'use strict';
// The seed's front end: io(url, {query}) with socket.io-client's default transports, so every
// session opens on HTTP long-polling and upgrades to WebSocket, against --workers 2 with no
// sticky sessions. The kernel spreads each session's requests over both workers; the worker that
// does not own a session hands the connection to the one that does (chatd_handovers_total).
// Checked: the seed flow (login, chat to the others only, exactly once), the upgrade itself, and
// that messages sent while the sessions are switching transports are neither lost nor doubled.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, waitFor, isReference } = require('./lib/harness');
const { handovers } = require('./lib/polling');
const { io } = require('socket.io-client');

const TIMEOUT = { timeout: 120_000 };
const DEFAULT_TRANSPORTS = { transports: ['polling', 'websocket'] };

async function world(t) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 2, redisUrl: redis.url });
  return { s, server };
}

const upgraded = (socket) => socket.io.engine && socket.io.engine.transport.name === 'websocket';

test('default transports: polling then upgrade, the seed flow across two workers', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const ROUNDS = 4;
  const PER_ROOM = 5;
  for (let round = 0; round < ROUNDS; round++) {
    const room = `seed-${round}`;
    const members = [];
    for (let i = 0; i < PER_ROOM; i++) {
      const name = `${room}-u${i}`;
      const socket = await s.client(server.url, { channel: room, userId: name, ...DEFAULT_TRANSPORTS });
      members.push({ name, socket, login: collect(socket, 'login'), chat: collect(socket, 'chat') });
    }
    // Every member saw the later joiners' login, with the handshake query of a polling session.
    for (let i = 0; i < PER_ROOM; i++) {
      const m = members[i];
      await m.login.waitCount(PER_ROOM - 1 - i, { label: `${m.name} logins` });
      for (const q of m.login.items) {
        assert.equal(q.channel, room);
        assert.equal(q.transport, 'polling', `the handshake was a polling one: ${JSON.stringify(q)}`);
      }
    }
    await waitFor(() => members.every((m) => upgraded(m.socket)), {
      timeout: 10_000,
      message: () => `every session upgraded: ${members.map((m) => m.socket.io.engine.transport.name)}`,
    });
    for (const m of members) m.socket.emit('message', { userId: m.name, channel: room, body: `hi from ${m.name}` });
    for (const m of members) {
      await m.chat.waitCount(PER_ROOM - 1, { timeout: 10_000, label: m.name });
    }
    await settle();
    for (const m of members) {
      const from = m.chat.items.map((p) => p.userId).sort();
      const want = members.filter((o) => o !== m).map((o) => o.name).sort();
      assert.deepEqual(from, want, `${m.name} got each other member's message exactly once`);
    }
  }
  if (!isReference) {
    const n = await handovers(server.port);
    t.diagnostic(`connections handed over: ${n}`);
    assert.ok(n > 0, `some requests crossed workers and were handed over (chatd_handovers_total ${n})`);
  }
});

test('messages sent while sessions upgrade are neither lost nor duplicated', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const ROUNDS = 6;
  const BURST = 150;
  let overPolling = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const room = `switch-${round}`;
    const sender = await s.client(server.url, { channel: room, userId: 'sender' }); // WebSocket only
    // The receivers connect while the sender is already sending: they join at some message k and
    // from then on must get k, k+1, … to the end, each once, across their upgrade.
    const sending = (async () => {
      for (let n = 0; n < BURST; n++) {
        sender.emit('message', { userId: 'sender', channel: room, n });
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const receivers = await Promise.all([0, 1, 2].map(async (i) => {
      // Listening before the CONNECT reply, so chat packets that come over polling count too.
      const socket = io(server.url, { forceNew: true, reconnection: false, query: { channel: room, userId: `r${i}` } });
      s.defer(() => socket.close());
      const r = { socket, chat: collect(socket, 'chat'), viaPolling: 0 };
      socket.on('chat', () => { if (!upgraded(socket)) r.viaPolling++; });
      await new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return r;
    }));
    await sending;
    for (const [i, r] of receivers.entries()) {
      await r.chat.waitFor((p) => p.n === BURST - 1, { timeout: 10_000, label: `round ${round} receiver ${i}: the last message` });
    }
    await settle();
    for (const [i, r] of receivers.entries()) {
      const ns = r.chat.items.map((p) => p.n);
      const first = ns[0];
      assert.deepEqual(ns, Array.from({ length: BURST - first }, (_, k) => first + k),
        `round ${round} receiver ${i}: every message from its join on, once, in order`);
      assert.ok(upgraded(r.socket), `round ${round} receiver ${i} upgraded`);
      overPolling += r.viaPolling;
    }
  }
  t.diagnostic(`chat packets delivered over polling before the switch: ${overPolling}`);
});

test('by hand: packets pending at the switch move to the WebSocket once, then polling is refused', { ...TIMEOUT, skip: isReference && 'chatd hand-over specifics' }, async (t) => {
  const { s, server } = await world(t);
  const { handshake, poll, post } = require('./lib/polling');
  const { openWebSocket } = require('./lib/rawws');
  const sender = await s.client(server.url, { channel: 'raw', userId: 'sender' });
  const send = async (from, to) => {
    for (let n = from; n < to; n++) sender.emit('message', { n });
    await settle();
  };
  const got = [];
  const take = (packets) => {
    for (const p of packets) if (p.startsWith('42["chat"')) got.push(JSON.parse(p.slice(2))[1].n);
  };

  const { sid } = await handshake(server.port, { query: { channel: 'raw', userId: 'x' } });
  assert.equal((await post(server.port, sid, '40')).body, 'ok');
  const first = await poll(server.port, sid);
  assert.match(first.packets[0], /^40\{"sid":/);
  take(first.packets.slice(1));

  await send(0, 10); // pending on polling
  const ws = await openWebSocket(server.port, { path: `/socket.io/?EIO=4&transport=websocket&sid=${sid}` });
  s.track(ws);
  ws.sendText('2probe');
  assert.equal((await ws.next({ timeout: 3000 })).text, '3probe');
  await send(10, 20); // still polling: the probe is not the transport yet
  const during = await poll(server.port, sid); // answered at once while upgrading
  assert.equal(during.status, 200);
  take(during.packets.filter((p) => p !== '6'));
  await send(20, 25); // pending again, between the last GET and "5"
  ws.sendText('5');
  await send(25, 30); // on the WebSocket
  await waitFor(() => ws.messages.filter((m) => m.text && m.text.startsWith('42["chat"')).length >= 30 - got.length, {
    timeout: 5000,
    message: () => `the rest of the messages on the WebSocket (had ${got.length} over polling, ${ws.messages.length} frames)`,
  });
  take(ws.messages.map((m) => m.text).filter(Boolean));
  assert.deepEqual(got, [...Array(30).keys()], 'every message once, in order, across the switch');

  const after = await poll(server.port, sid);
  assert.equal(after.status, 400, `polling after the upgrade: ${after.body}`);
  assert.equal(after.body, '{"code":3,"message":"Bad request"}');
});
