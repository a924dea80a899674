'use strict';
// Connection hand-over between workers (no sticky sessions): one kept-alive TCP connection that
// carries polling requests for sessions of both workers (it moves to the owner of each request's
// session, and stays there), a respawned worker taking its slot's hand-overs, a reload after
// which the old generation's sids are "Session ID unknown", and the added latency of a hand-over,
// measured (reported, not asserted).

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

// A raw kept-alive connection: one request written as bytes, the answer read to its end, so
// the client adds as little as possible to what is measured.
async function rawKeptAlive(t, port) {
  const net = require('node:net');
  const sock = net.connect({ host: '127.0.0.1', port });
  sock.setNoDelay(true);
  t.after(() => sock.destroy());
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  let buf = '';
  let waiting = null;
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0 || !waiting) return;
    const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))[1]);
    if (buf.length < end + 4 + len) return;
    const res = { head: buf.slice(0, end), body: buf.slice(end + 4, end + 4 + len) };
    buf = buf.slice(end + 4 + len);
    const w = waiting;
    waiting = null;
    w(res);
  });
  return (text) => new Promise((resolve) => {
    waiting = resolve;
    sock.write(text);
  });
}

test('hand-over latency: polling requests that need a hand-over against ones that do not', { ...TIMEOUT, skip }, async (t) => {
  const { server } = await world(t);
  const port = server.port;
  const [s0, s1] = await sessionPerSlot(port);
  const SAMPLES = 2000;
  const request = (sid) => `POST ${path(sid)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\n6`;
  const reqs = [request(s0), request(s1)];
  const time = async (send, text) => {
    const t0 = process.hrtime.bigint();
    const res = await send(text);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    assert.equal(res.body, 'ok', res.head);
    return us;
  };
  // `direct` always names s0: after its first request the connection lives at s0's owner.
  // `moving` alternates owners: every request moves the connection to the other worker.
  // Samples interleave so both kinds see the same machine.
  const direct = await rawKeptAlive(t, port);
  const moving = await rawKeptAlive(t, port);
  await time(direct, reqs[0]);
  const before = await handovers(port);
  const d = [];
  const m = [];
  for (let i = 0; i < SAMPLES; i++) {
    d.push(await time(direct, reqs[0]));
    m.push(await time(moving, reqs[(i + 1) % 2]));
  }
  const n = (await handovers(port)) - before;
  assert.ok(n >= SAMPLES - 1, `every alternating request was handed over (${n})`);
  const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  const stat = (xs) => `median ${q(xs, 0.5).toFixed(0)} us, p90 ${q(xs, 0.9).toFixed(0)} us, p99 ${q(xs, 0.99).toFixed(0)} us`;
  t.diagnostic(`hand-overs counted: ${n}`);
  t.diagnostic(`POST without hand-over (${SAMPLES}): ${stat(d)}`);
  t.diagnostic(`POST with a hand-over each (${SAMPLES}): ${stat(m)}`);
  t.diagnostic(`added latency of a hand-over: median ${(q(m, 0.5) - q(d, 0.5)).toFixed(0)} us, p90 ${(q(m, 0.9) - q(d, 0.9)).toFixed(0)} us`);
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
