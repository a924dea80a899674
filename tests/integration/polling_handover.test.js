'use strict';
// Connection hand-over between workers (no sticky sessions): one kept-alive TCP connection that
// carries polling requests for sessions of both workers (it moves to the owner of each request's
// session, and stays there), a respawned worker taking its slot's hand-overs, a reload after
// which the old generation's sids are "Session ID unknown". The added latency of a hand-over is
// measured by bench/handover-latency, not here.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { scope, waitFor, httpRequest, isReference } = require('./lib/harness');
const { handshake, poll, post, handovers, sidSlot } = require('./lib/polling');

const TIMEOUT = { timeout: 120_000 };
const skip = isReference && 'chatd\'s worker hand-over';

async function world(t) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 2, redisUrl: redis.url });
  await waitFor(() => server.workerPids().length === 2, { message: 'two workers' });
  return { s, server };
}

// Opens sessions (each on a fresh connection, so on whichever worker the kernel picks) until
// there is one owned by each slot.
async function sessionPerSlot(port, slots = [0, 1]) {
  const by = new Map();
  for (let i = 0; i < 60 && by.size < slots.length; i++) {
    const h = await handshake(port);
    if (!by.has(sidSlot(h.sid))) by.set(sidSlot(h.sid), h.sid);
  }
  assert.equal(by.size, slots.length, `sessions on slots ${[...by.keys()]}`);
  return slots.map((slot) => by.get(slot));
}

function keptAlive(t) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const sockets = new Set();
  const req = (port, opts) => new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, agent, ...opts }, (res) => {
      sockets.add(res.socket);
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    if (opts.body !== undefined) r.write(opts.body);
    r.end();
  });
  return { req, sockets };
}

const path = (sid) => `/socket.io/?EIO=4&transport=polling&sid=${sid}`;

test('one kept-alive connection carries requests for sessions of both workers', { ...TIMEOUT, skip }, async (t) => {
  const { server } = await world(t);
  const port = server.port;
  const [s0, s1] = await sessionPerSlot(port);
  const ka = keptAlive(t);
  const before = await handovers(port);
  const ROUNDS = 20;
  for (let i = 0; i < ROUNDS; i++) {
    for (const sid of [s0, s1]) {
      const res = await ka.req(port, { method: 'POST', path: path(sid), body: '6', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(res.status, 200, `round ${i} sid slot ${sidSlot(sid)}: ${res.body}`);
      assert.equal(res.body, 'ok');
    }
  }
  // An unknown sid on the same connection, and /healthz: answered where the connection is.
  assert.equal((await ka.req(port, { path: path('AAAAAAAAAAAAAAAAAAAA') })).status, 400);
  assert.equal((await ka.req(port, { path: '/healthz' })).status, 200);
  assert.equal(ka.sockets.size, 1, 'every request went over the same TCP connection');
  const moved = (await handovers(port)) - before;
  t.diagnostic(`hand-overs for ${ROUNDS * 2} alternating requests on one connection: ${moved}`);
  // Every switch of owner moves the connection once: at least every request but the first.
  assert.ok(moved >= ROUNDS * 2 - 1, `the connection moved to each request's owner (${moved})`);
});

test('a respawned worker takes its slot\'s hand-overs; after a reload old sids are unknown', { ...TIMEOUT, skip }, async (t) => {
  const { server } = await world(t);
  const port = server.port;
  await server.waitForLog(/all 2 workers ready/);
  const [s0, s1] = await sessionPerSlot(port);

  // Kill every worker: the respawned ones read the same channels; the sessions died with them.
  const killed = server.workerPids();
  for (const pid of killed) process.kill(pid, 'SIGKILL');
  await waitFor(async () => {
    const pids = server.workerPids();
    if (pids.length !== 2 || pids.some((p) => killed.includes(p))) return false;
    const r = await httpRequest(port, { path: '/healthz' }).catch(() => null);
    return r && r.status === 200;
  }, { timeout: 15_000, message: () => `two new worker processes (have ${server.workerPids()}, killed ${killed})` });
  t.diagnostic(`workers ${killed} killed, respawned as ${server.workerPids()}`);
  await waitFor(async () => (await poll(port, s0).catch(() => ({}))).status === 400, { timeout: 15_000, message: 'the old session answered' });
  for (const sid of [s0, s1]) {
    for (let i = 0; i < 6; i++) {
      const res = await poll(port, sid);
      assert.equal(res.body, '{"code":1,"message":"Session ID unknown"}', `old sid, slot ${sidSlot(sid)}`);
    }
  }
  // New sessions on both respawned workers work whichever worker gets their requests.
  const fresh = await sessionPerSlot(port);
  for (const sid of fresh) {
    for (let i = 0; i < 6; i++) assert.equal((await post(port, sid, '6')).body, 'ok', `new sid, slot ${sidSlot(sid)}`);
  }

  // Reload: the new generation reuses the slots (and their channels); the old sids are unknown.
  const gen1 = server.workerPids();
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 15_000);
  await waitFor(() => server.workerPids().every((p) => !gen1.includes(p)), { timeout: 15_000, message: 'the old generation exited' });
  t.diagnostic(`reloaded: workers ${server.workerPids()}`);
  for (const sid of fresh) {
    for (let i = 0; i < 6; i++) {
      const res = await post(port, sid, '6');
      assert.ok(res.status === 400 && /Session ID unknown/.test(res.body), `sid of the old generation, slot ${sidSlot(sid)}: ${res.status} ${res.body}`);
    }
  }
  const after = await sessionPerSlot(port);
  for (const sid of after) {
    for (let i = 0; i < 6; i++) assert.equal((await post(port, sid, '6')).body, 'ok', `new generation sid, slot ${sidSlot(sid)}`);
  }
});

test('a reload closes the old generation\'s polling sessions; their clients reconnect and chat', { ...TIMEOUT, skip }, async (t) => {
  const { s, server } = await world(t);
  await server.waitForLog(/all 2 workers ready/);
  const { collect } = require('./lib/harness');
  const opts = { transports: ['polling'], reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 };
  const a = await s.client(server.url, { channel: 'reload', userId: 'a', ...opts });
  const b = await s.client(server.url, { channel: 'reload', userId: 'b', ...opts });
  const oldIds = [a.io.engine.id, b.io.engine.id];
  let reconnects = 0;
  a.io.on('reconnect', () => reconnects++);
  b.io.on('reconnect', () => reconnects++);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 15_000);
  await waitFor(() => reconnects >= 2 && a.connected && b.connected, {
    timeout: 15_000,
    message: () => `both clients reconnected (${reconnects} reconnects; connected ${a.connected}, ${b.connected})`,
  });
  assert.ok(!oldIds.includes(a.io.engine.id) && !oldIds.includes(b.io.engine.id), 'new Engine.IO sessions');
  const got = collect(b, 'chat');
  a.emit('message', { body: 'after the reload' });
  await got.waitFor((p) => p.body === 'after the reload', { timeout: 5000 });
});
