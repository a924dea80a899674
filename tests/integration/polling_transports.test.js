'use strict';
// Clients that never leave long-polling: transports: ["polling"], and the default transports
// with upgrade: false. Against --workers 2 without sticky sessions, rooms chat across the
// workers (each session's polling requests reach its owner by hand-over), the heartbeat keeps
// idle polling sessions alive, and large and binary payloads go through the polling encoding.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, waitFor, isReference } = require('./lib/harness');
const { handovers, sidSlot } = require('./lib/polling');

const TIMEOUT = { timeout: 120_000 };

async function world(t, config = {}) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 2, redisUrl: redis.url, config });
  return { s, server };
}

async function chatRoom(t, s, server, room, clientOpts, { members = 6 } = {}) {
  const ms = [];
  for (let i = 0; i < members; i++) {
    const name = `${room}-u${i}`;
    const socket = await s.client(server.url, { channel: room, userId: name, ...clientOpts });
    ms.push({ name, socket, chat: collect(socket, 'chat') });
  }
  await settle();
  for (const m of ms) m.socket.emit('message', { userId: m.name, channel: room, body: `from ${m.name}` });
  for (const m of ms) await m.chat.waitCount(members - 1, { timeout: 10_000, label: m.name });
  await settle();
  for (const m of ms) {
    const from = m.chat.items.map((p) => p.userId).sort();
    assert.deepEqual(from, ms.filter((o) => o !== m).map((o) => o.name).sort(), `${m.name}: each other member's message once`);
  }
  return ms;
}

test('transports ["polling"]: rooms chat across both workers', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const slots = new Set();
  for (let round = 0; round < 3; round++) {
    const ms = await chatRoom(t, s, server, `poll-${round}`, { transports: ['polling'] });
    for (const m of ms) {
      assert.equal(m.socket.io.engine.transport.name, 'polling');
      slots.add(sidSlot(m.socket.io.engine.id));
    }
  }
  t.diagnostic(`sessions owned by slots ${[...slots].sort()}`);
  if (!isReference) {
    assert.equal(slots.size, 2, 'sessions were opened on both workers');
    const n = await handovers(server.port);
    t.diagnostic(`connections handed over: ${n}`);
    assert.ok(n > 0, `polling requests crossed workers (chatd_handovers_total ${n})`);
  }
});

test('upgrade: false keeps the session on polling, and it chats', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const ms = await chatRoom(t, s, server, 'no-upgrade', { transports: ['polling', 'websocket'], upgrade: false });
  await settle();
  for (const m of ms) assert.equal(m.socket.io.engine.transport.name, 'polling', `${m.name} stayed on polling`);
});

test('polling sessions live through several heartbeats while idle, then still chat', TIMEOUT, async (t) => {
  const { s, server } = await world(t, { engineio: { ping_interval: 300, ping_timeout: 1000 } });
  const a = await s.client(server.url, { channel: 'hb', userId: 'a', transports: ['polling'] });
  const b = await s.client(server.url, { channel: 'hb', userId: 'b', transports: ['polling'] });
  const pings = { n: 0 };
  a.io.engine.on('ping', () => pings.n++);
  await waitFor(() => pings.n >= 4, { timeout: 10_000, message: () => `4 pings over polling, got ${pings.n}` });
  assert.ok(a.connected && b.connected, 'both still connected');
  const got = collect(b, 'chat');
  a.emit('message', { body: 'still here' });
  await got.waitCount(1);
});

test('large and binary payloads over polling', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const opts = { transports: ['polling'] };
  // Large: across workers (the bus carries it when the two sessions live on different workers).
  const a = await s.client(server.url, { channel: 'big', userId: 'a', ...opts });
  const b = await s.client(server.url, { channel: 'big', userId: 'b', ...opts });
  const bChat = collect(b, 'chat');
  const body = 'x'.repeat(300_000) + '한글✓';
  a.emit('message', { userId: 'a', body });
  a.emit('message', { userId: 'a', body: 'small after large' });
  await bChat.waitCount(2, { timeout: 10_000 });
  assert.equal(bChat.items[0].body, body);
  assert.equal(bChat.items[1].body, 'small after large');

  // Binary: relayed to the members on the sender's worker, so the receiver is opened until its
  // session lives where the sender's does.
  const sender = await s.client(server.url, { channel: 'bin', userId: 'sender', ...opts });
  const slot = sidSlot(sender.io.engine.id);
  let receiver = null;
  for (let i = 0; i < 40 && !receiver; i++) {
    const c = await s.client(server.url, { channel: 'bin', userId: `r${i}`, ...opts });
    if (sidSlot(c.io.engine.id) === slot) receiver = c;
    else c.close();
  }
  assert.ok(receiver, 'a receiver on the sender\'s worker');
  const got = collect(receiver, 'chat');
  const bytes = Buffer.from([0, 1, 2, 3, 254, 255, ...Buffer.from('binary ✓')]);
  await settle();
  sender.emit('message', { userId: 'sender', file: bytes, big: Buffer.alloc(100_000, 7) });
  await got.waitCount(1, { timeout: 10_000 });
  const p = got.items[0];
  assert.equal(p.userId, 'sender');
  assert.ok(Buffer.from(p.file).equals(bytes), `the attachment's bytes: ${Buffer.from(p.file).toString('hex')}`);
  assert.ok(Buffer.from(p.big).equals(Buffer.alloc(100_000, 7)), 'the large attachment');
});
