'use strict';
// One daemon with --workers 2: rooms span the workers. Clients are spread by the kernel
// (SO_REUSEPORT), so the test connects enough of them that both workers hold members of every
// room (checked on GET /metrics, per-worker connection gauges), then checks that every member gets
// every message of its room exactly once and nothing from another room.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { scope, collect, settle, waitFor, getMetrics, isReference } = require('./lib/harness');

const ROOMS = 4;
const PER_ROOM = 10;
const EXTRA_MAX = 30; // extra members a room may get if the kernel happened to put all on one worker

// Per-worker figures from /metrics: chatd_sessions (Socket.IO sockets) when the server has it,
// else chatd_connections, read over one kept-alive connection so that the connection the request
// itself uses (connections count HTTP requests too) stays on one worker and cancels out.
async function workerGauges(port, agent) {
  const m = await getMetrics(port, { agent });
  if (m.status !== 200) return null;
  for (const name of ['chatd_sessions', 'chatd_connections']) {
    const gauges = new Map();
    for (const sample of m.samples) {
      if (sample.name === name && sample.labels.worker !== undefined) gauges.set(sample.labels.worker, sample.value);
    }
    if (gauges.size) return gauges;
  }
  return null;
}

const total = (g) => [...g.values()].reduce((a, b) => a + b, 0);

test('rooms span both workers: every member gets every message of its room exactly once', { timeout: 120_000 }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 2, redisUrl: redis.url });
  await waitFor(() => server.workerPids().length === 2, { message: () => `2 worker processes, have ${JSON.stringify(server.workerPids())}` });

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  s.defer(() => agent.destroy());
  let gauges = await workerGauges(server.port, agent);
  if (!gauges) {
    assert.fail('GET /metrics has no chatd_sessions{worker="…"} or chatd_connections{worker="…"} gauges: cannot tell which worker holds which client');
  }
  assert.equal(gauges.size, 2, `one gauge per worker: ${JSON.stringify([...gauges])}`);

  const rooms = [];
  for (let r = 0; r < ROOMS; r++) {
    const room = `room-${r}`;
    const before = gauges;
    const members = [];
    const perWorker = () => {
      const d = {};
      for (const [w, v] of gauges) d[w] = v - (before.get(w) || 0);
      return d;
    };
    for (let i = 0; i < PER_ROOM + EXTRA_MAX; i++) {
      const name = `${room}-u${i}`;
      members.push({ name, socket: await s.client(server.url, { channel: room, userId: name }) });
      if (members.length < PER_ROOM) continue;
      const want = total(before) + members.length;
      gauges = await waitFor(async () => {
        const g = await workerGauges(server.port, agent);
        return g && total(g) === want ? g : null;
      }, { message: () => `the per-worker gauges to add up to ${want} (${room})` });
      if (Object.values(perWorker()).every((n) => n > 0)) break;
    }
    const spread = perWorker();
    t.diagnostic(`${room}: ${members.length} members, per worker ${JSON.stringify(spread)}`);
    assert.ok(Object.values(spread).every((n) => n > 0), `${room} has members on both workers: ${JSON.stringify(spread)}`);
    rooms.push({ room, members });
  }

  for (const { members } of rooms) for (const m of members) m.chat = collect(m.socket, 'chat');
  for (const { room, members } of rooms) {
    for (const m of members) m.socket.emit('message', { userId: m.name, channel: room, body: `hello from ${m.name}` });
  }
  for (const { members } of rooms) {
    for (const m of members) await m.chat.waitCount(members.length - 1, { timeout: 15_000, label: m.name });
  }
  await settle();
  for (const { room, members } of rooms) {
    const names = members.map((m) => m.name);
    for (const m of members) {
      const from = m.chat.items.map((p) => p.userId).sort();
      assert.deepEqual(from, names.filter((n) => n !== m.name).sort(), `${m.name}: each other member of ${room} exactly once`);
      for (const p of m.chat.items) assert.deepEqual(p, { userId: p.userId, channel: room, body: `hello from ${p.userId}` });
    }
  }
  t.diagnostic(`target: ${isReference ? 'reference' : 'chatd'}`);
});

test('logins cross workers: a member gets one login per later joiner, whichever worker has it', { timeout: 60_000 }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 2, redisUrl: redis.url });
  const first = await s.client(server.url, { channel: 'lobby', userId: 'first' });
  const logins = collect(first, 'login');
  const n = 16;
  for (let i = 0; i < n; i++) await s.client(server.url, { channel: 'lobby', userId: `j${i}` });
  await logins.waitCount(n);
  await settle();
  assert.deepEqual(logins.items.map((q) => q.userId).sort(), Array.from({ length: n }, (_, i) => `j${i}`).sort());
  for (const q of logins.items) assert.deepEqual(q, { channel: 'lobby', userId: q.userId, EIO: '4', transport: 'websocket' });
});
