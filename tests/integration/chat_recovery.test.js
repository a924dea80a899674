'use strict';
// Socket.IO connection state recovery (config recovery:; README "History and connection state
// recovery") with the plain socket.io-client: senders and receivers in one room on chatd
// --workers 2 while messages flow; receivers dropped (the TCP connection destroyed under them,
// the worker serving them killed with -9, a SIGHUP reload) reconnect by themselves and have,
// after it, every acknowledged message of every sender exactly once, in each sender's order,
// with socket.recovered true, the same socket id and their room. A pid that is unknown or
// expired, or an offset trimmed away, gives a fresh session (recovered false).

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, connectClient, waitFor, sleep, isReference } = require('./lib/harness');
const { slotOf, liveWorkers } = require('./lib/process');

const skip = isReference ? 'the reference seed server runs without connectionStateRecovery' : false;
// The harness turns recovery off (the seed's wire); these tests turn it on.
const ON = { recovery: { enabled: true } };
const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300, randomizationFactor: 0 };

// A client on worker slot `slot` (any slot when undefined): SO_REUSEPORT spreads connections
// by hash, so a few attempts land one where it is wanted.
async function clientOn(s, url, opts, slot) {
  for (let attempt = 0; attempt < 60; attempt++) {
    const socket = await connectClient(url, { ...RECONNECT, ...opts });
    if (slot === undefined || slotOf(socket) === slot) {
      s.track(socket);
      return socket;
    }
    socket.close();
  }
  throw new Error(`no connection landed on slot ${slot}`);
}

// Records every `chat` (payload and its offset), every reconnect's recovered flag and id.
function receiver(socket, name) {
  const r = { socket, name, firstId: socket.id, chats: [], reconnects: [], disconnects: [] };
  socket.on('chat', (payload, offset) => r.chats.push({ ...payload, offset }));
  socket.on('disconnect', (reason) => r.disconnects.push(reason));
  socket.on('connect', () => r.reconnects.push({ recovered: socket.recovered, id: socket.id }));
  return r;
}

// Sends `message` {from, i} every `every` ms until stop(); remembers what the server acked.
function sender(socket, name, room, every = 5) {
  const st = { name, acked: [], sent: 0, running: true };
  const loop = (async () => {
    for (let i = 0; st.running; i++) {
      st.sent = i + 1;
      socket.timeout(10_000).emitWithAck('message', { userId: name, channel: room, from: name, i })
        .then(() => st.acked.push(i), () => {});
      await sleep(every);
    }
  })();
  st.stop = async () => {
    st.running = false;
    await loop;
    await sleep(500);  // the last acks
  };
  return st;
}

// Every acked message of every sender once, each sender's in order (what was sent and not
// acked may have arrived too, once, in its place).
function problemsOf(r, senders) {
  const problems = [];
  for (const snd of senders) {
    const got = r.chats.filter((c) => c.from === snd.name).map((c) => c.i);
    for (let k = 1; k < got.length; k++) {
      if (got[k] <= got[k - 1]) problems.push(`${r.name}: from ${snd.name} ${got[k]} after ${got[k - 1]}`);
    }
    const seen = new Set(got);
    const missing = snd.acked.filter((i) => !seen.has(i));
    if (missing.length) problems.push(`${r.name}: ${missing.length} of ${snd.name}'s missing: ${missing.slice(0, 10)}`);
  }
  // Offsets: stream ids, increasing.
  for (let k = 1; k < r.chats.length; k++) {
    const [a, b] = [r.chats[k - 1].offset, r.chats[k].offset].map((o) => o.split('-').map(BigInt));
    if (b[0] < a[0] || (b[0] === a[0] && b[1] <= a[1])) {
      problems.push(`${r.name}: offset ${r.chats[k].offset} after ${r.chats[k - 1].offset}`);
      break;
    }
  }
  for (const rc of r.reconnects) {
    if (rc.recovered !== true) problems.push(`${r.name}: reconnected with recovered ${rc.recovered}`);
    if (rc.id !== r.firstId) problems.push(`${r.name}: reconnected as ${rc.id}, was ${r.firstId}`);
  }
  return problems;
}

// The common run: `drop(receivers)` happens while messages flow; then the flow goes on, stops,
// and every receiver must have everything.
async function runFlow(t, { config = {}, senderSlot, receiverSlot, drop }) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, config: { ...ON, ...config } });
  await server.waitForLog(/all 2 workers ready/);
  const room = 'flow';
  const receivers = [];
  for (let k = 0; k < 3; k++) {
    receivers.push(receiver(await clientOn(s, server.url, { channel: room, userId: `r${k}` }, receiverSlot), `r${k}`));
  }
  const senders = [];
  for (let k = 0; k < 2; k++) {
    const sock = await clientOn(s, server.url, { channel: room, userId: `s${k}` }, senderSlot);
    senders.push(sender(sock, `s${k}`, room));
  }
  await waitFor(() => receivers.every((r) => r.chats.length >= 20), { message: 'messages to flow' });
  await drop({ server, receivers, redis });
  await waitFor(() => receivers.every((r) => r.socket.connected && r.reconnects.length >= 1),
    { timeout: 20_000, message: () => `receivers back: ${receivers.map((r) => `${r.name} ${r.reconnects.length}`)}` });
  const mark = senders.map((x) => x.acked.length);
  await waitFor(() => senders.every((x, k) => x.acked.length >= mark[k] + 50), { timeout: 20_000, message: 'messages to flow after' });
  for (const x of senders) await x.stop();
  await waitFor(() => receivers.every((r) => senders.every((x) => x.acked.every((i) => r.chats.some((c) => c.from === x.name && c.i === i)))),
    { timeout: 15_000, message: () => receivers.flatMap((r) => problemsOf(r, senders)).slice(0, 5).join('; ') });
  const problems = receivers.flatMap((r) => problemsOf(r, senders));
  t.diagnostic(`acked per sender: ${senders.map((x) => x.acked.length)}; per receiver: ${receivers.map((r) => r.chats.length)}; ` +
    `reconnects: ${receivers.map((r) => r.reconnects.length)}`);
  assert.deepEqual(problems, []);
  // The room kept: a message after everything still reaches each receiver.
  const last = await clientOn(s, server.url, { channel: room, userId: 'late' });
  await last.emitWithAck('message', { from: 'late', i: 0 });
  await waitFor(() => receivers.every((r) => r.chats.some((c) => c.from === 'late')), { message: 'the late message everywhere' });
  return { server, receivers };
}

test('TCP connections destroyed under the receivers: each comes back recovered with every message once, in order', { timeout: 90_000, skip }, async (t) => {
  await runFlow(t, {
    drop: async ({ receivers }) => {
      for (const r of receivers) r.socket.io.engine.transport.ws._socket.destroy();
    },
  });
});

test('the worker serving the receivers killed with -9: they recover on the other worker with every message once', { timeout: 90_000, skip }, async (t) => {
  await runFlow(t, {
    senderSlot: 0,
    receiverSlot: 1,
    drop: async ({ server }) => {
      const victim = liveWorkers(server).find((w) => w.slot === 1);
      process.kill(victim.pid, 'SIGKILL');
    },
  });
});

test('a SIGHUP reload: receivers closed by the retiring generation recover on the new one with every message once', { timeout: 90_000, skip }, async (t) => {
  await runFlow(t, {
    config: { shutdown_timeout: 300 },
    drop: async ({ server }) => {
      server.signal('SIGHUP');
      await server.waitForLog(/reload done: generation 2 serving/, 15_000);
    },
  });
});

// One client in a room with one sender; returns both after the client got a message.
async function pair(t, config = {}, clientOpts = {}) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 1, redisUrl: redis.url, config: { ...ON, ...config } });
  const a = await clientOn(s, server.url, { channel: 'p', userId: 'a' });
  const b = receiver(await clientOn(s, server.url, { channel: 'p', userId: 'b', ...clientOpts }), 'b');
  await a.emitWithAck('message', { from: 'a', i: 0 });
  await waitFor(() => b.chats.length === 1, { message: 'b to get a message' });
  return { s, redis, server, a, b };
}

test('a pid whose session is unknown gives a fresh session: recovered false, a new id', { timeout: 30_000, skip }, async (t) => {
  const { redis, b } = await pair(t);
  assert.equal(await redis.command('DEL', `socket.io:session:${b.socket._pid}`), 1, 'the record was there');
  b.socket.io.engine.transport.ws._socket.destroy();
  await waitFor(() => b.reconnects.length === 1, { message: 'b back' });
  assert.equal(b.reconnects[0].recovered, false);
  assert.notEqual(b.reconnects[0].id, b.firstId);
});

test('a session past recovery.max_disconnection is expired: recovered false', { timeout: 30_000, skip }, async (t) => {
  const { b } = await pair(t, { recovery: { enabled: true, max_disconnection: 1000 } }, { reconnectionDelay: 2500, reconnectionDelayMax: 2500 });
  b.socket.io.engine.transport.ws._socket.destroy();
  await waitFor(() => b.reconnects.length === 1, { timeout: 10_000, message: 'b back' });
  assert.equal(b.reconnects[0].recovered, false);
});

test('an offset trimmed from the stream gives a fresh session: recovered false', { timeout: 30_000, skip }, async (t) => {
  const { redis, a, b } = await pair(t);
  await a.emitWithAck('message', { from: 'a', i: 1 });
  await waitFor(() => b.chats.length === 2, { message: 'b to get the second' });
  await redis.command('XTRIM', 'socket.io', 'MAXLEN', '0');
  b.socket.io.engine.transport.ws._socket.destroy();
  await waitFor(() => b.reconnects.length === 1, { message: 'b back' });
  assert.equal(b.reconnects[0].recovered, false);
});

test('the CONNECT reply carries a pid and every broadcast ends with a stream-id offset', { timeout: 30_000, skip }, async (t) => {
  const { b } = await pair(t);
  assert.match(b.socket._pid, /^[\w-]{20}$/);
  assert.match(b.chats[0].offset, /^\d+-\d+$/);
  assert.equal(b.socket._lastOffset, b.chats[0].offset, 'the client tracks it');
});

test('recovery.enabled false: no pid, no offset', { timeout: 30_000, skip }, async (t) => {
  const { b } = await pair(t, { recovery: { enabled: false } });
  assert.equal(b.socket._pid, undefined);
  assert.equal(b.chats[0].offset, undefined);
});

test('a Redis that lost the publish script (SCRIPT FLUSH) mid-flow: every message still arrives once, in order, with an offset', { timeout: 30_000, skip }, async (t) => {
  const { redis, server, a, b } = await pair(t);
  const acks = [];
  for (let i = 1; i <= 200; i++) {
    if (i === 100) await redis.command('SCRIPT', 'FLUSH');
    acks.push(a.emitWithAck('message', { from: 'a', i }));
  }
  await Promise.all(acks);
  await waitFor(() => b.chats.length === 201, { message: () => `b has ${b.chats.length} of 201` });
  assert.deepEqual(b.chats.map((c) => c.i), Array.from({ length: 201 }, (_, i) => i));
  assert.ok(b.chats.every((c) => /^\d+-\d+$/.test(c.offset)), 'every one with an offset');
  await server.waitForLog(/the publish script is not loaded; sending it with EVAL/, 1000);
});

test('a room joined with `join` is kept by a recovery, and what it missed there is replayed', { timeout: 30_000, skip }, async (t) => {
  const { s, server, b } = await pair(t);
  const c = await clientOn(s, server.url, { channel: 'extra', userId: 'c' });
  const joined = await b.socket.emitWithAck('join', 'extra');
  assert.deepEqual(joined.rooms, ['p', 'extra']);
  await c.emitWithAck('message', { from: 'c', i: 0 });
  await waitFor(() => b.chats.some((m) => m.from === 'c' && m.i === 0), { message: 'b to get c 0' });
  b.socket.io.engine.transport.ws._socket.destroy();
  await waitFor(() => b.disconnects.length === 1, { message: 'b dropped' });
  for (let i = 1; i <= 3; i++) await c.emitWithAck('message', { from: 'c', i });
  await waitFor(() => b.reconnects.length === 1, { message: 'b back' });
  assert.equal(b.reconnects[0].recovered, true);
  await waitFor(() => b.chats.filter((m) => m.from === 'c').length === 4, { message: 'the 3 missed in extra' });
  assert.deepEqual(b.chats.filter((m) => m.from === 'c').map((m) => m.i), [0, 1, 2, 3]);
  // Still in `extra` after the recovery: live messages keep coming.
  await c.emitWithAck('message', { from: 'c', i: 4 });
  await waitFor(() => b.chats.filter((m) => m.from === 'c').length === 5, { message: 'a live one in extra' });
});
