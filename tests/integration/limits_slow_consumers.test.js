'use strict';
// Slow consumers and memory (README "Slow consumers"): clients that stop reading are dropped
// (limits.max_backpressure each, limits.max_output_memory for the worker) while the members
// that read get every message and the worker's RSS stays bounded; a sender that never reads is
// kept until the heartbeat ends it, one that reads what it must is kept for good.

const fs = require('node:fs');
const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, getMetrics, waitFor, sleep } = require('./lib/harness');
const { openEngineIO } = require('./lib/rawws');

const ROOMS = 4;
const SLOW_PER_ROOM = 50;
const READERS_PER_ROOM = 3;
const BUDGET_MIB = 8;
const BODY = 'x'.repeat(2000);

function vm(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function metric(samples, name) {
  return samples.filter((m) => m.name === name).reduce((n, m) => n + m.value, 0);
}

// A raw WebSocket client that completes the handshake and CONNECT, then never reads again.
async function nonReader(port, channel, userId) {
  const c = await openEngineIO(port, { query: { channel, userId } });
  const reply = await c.connect();
  assert.match(reply, /^40/, `${userId} connects`);
  c.ws.sock.pause();
  return c;
}

test('non-reading clients are dropped, readers get every message, the worker RSS stays bounded', { timeout: 60_000 }, async (t) => {
  if (process.env.CHATD_TARGET === 'reference') return t.skip('max_output_memory is chatd\'s own');
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({
    workers: 1,
    redisUrl: redis.url,
    config: { limits: { max_output_memory: `${BUDGET_MIB}MiB`, message_rate: 0 } },
  });
  const [pid] = server.workerPids();
  assert.ok(pid, 'the worker pid');

  const readers = [];
  const counts = [];
  for (let r = 0; r < ROOMS; r++) {
    for (let i = 0; i < READERS_PER_ROOM; i++) {
      const c = await s.client(server.url, { channel: `busy${r}`, userId: `reader${r}-${i}` });
      const k = readers.length;
      counts.push(0);
      c.on('chat', () => { counts[k]++; });
      readers.push({ room: r, c });
    }
  }
  const slow = [];
  for (let r = 0; r < ROOMS; r++) {
    for (let i = 0; i < SLOW_PER_ROOM; i++) slow.push(s.track(await nonReader(server.port, `busy${r}`, `slow${r}-${i}`)));
  }
  const senders = [];
  for (let r = 0; r < ROOMS; r++) senders.push(await s.client(server.url, { channel: `busy${r}`, userId: `sender${r}` }));
  await sleep(200);  // the logins are delivered
  const baselineKiB = vm(pid, 'VmRSS');

  // Batches the readers take before the next one: a reader's queue stays short, the
  // non-readers' grow until the budget or max_backpressure drops them.
  const BATCH = 25;
  let sent = 0;
  let dropped = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 35_000) {
    for (let b = 0; b < BATCH; b++) {
      for (const snd of senders) snd.emit('message', { userId: 'sender', channel: 'x', body: BODY, n: sent });
      sent++;
    }
    await waitFor(() => counts.every((n) => n === sent), {
      timeout: 10_000,
      message: () => `every reader to have ${sent} messages; they have ${JSON.stringify(counts)}`,
    });
    const m = await getMetrics(server.port);
    dropped = metric(m.samples, 'chatd_dropped_slow_total') + metric(m.samples, 'chatd_output_budget_dropped_total');
    if (dropped >= slow.length) break;
  }
  const m = await getMetrics(server.port);
  const byBudget = metric(m.samples, 'chatd_output_budget_dropped_total');
  const byBackpressure = metric(m.samples, 'chatd_dropped_slow_total');
  const peakKiB = vm(pid, 'VmHWM');
  const nowKiB = vm(pid, 'VmRSS');
  t.diagnostic(`${sent} messages per room of ${BODY.length} B; non-readers dropped: ${byBudget} by the budget, ` +
    `${byBackpressure} by max_backpressure; worker RSS ${baselineKiB} KiB before, peak ${peakKiB} KiB, ` +
    `${nowKiB} KiB after; queued output now ${metric(m.samples, 'chatd_output_queued_bytes')} B`);

  assert.equal(byBudget + byBackpressure, slow.length, 'every non-reader is dropped');
  assert.ok(byBudget > 0, `the budget dropped some (budget ${byBudget}, backpressure ${byBackpressure})`);
  assert.deepEqual(counts, counts.map(() => sent), 'every reader got every message');
  assert.equal(metric(m.samples, 'chatd_sessions'), readers.length + senders.length, 'readers and senders stay');
  // The bound: what the worker held before, the budget (an upper bound of the queues' memory:
  // a shared frame counts once per queue), one loop iteration's overshoot (at most what it
  // reads, 64 KiB per read, framed once) and the allocator's slack: 16 MiB.
  const boundKiB = baselineKiB + BUDGET_MIB * 1024 + 16 * 1024;
  assert.ok(peakKiB < boundKiB, `peak RSS ${peakKiB} KiB < ${boundKiB} KiB (baseline ${baselineKiB} + budget ${BUDGET_MIB} MiB + 16 MiB)`);
  return undefined;
});

// Writes `message` events as fast as the socket takes them until `until()` or the connection
// ends; resolves with how it ended.
async function flood(c, until) {
  const sock = c.ws.sock;
  let error = null;
  sock.on('error', (e) => { error = e; });
  const frame = `42["message",${JSON.stringify({ userId: 'fast', channel: 'flood', body: 'y'.repeat(100) })}]`;
  let sent = 0;
  while (!c.ws.tcpClosed && !error && !until()) {
    for (let i = 0; i < 50 && !error; i++) {
      c.ws.sendText(frame);
      sent++;
    }
    if (sock.writableLength > (1 << 20)) await new Promise((r) => sock.once('drain', r));
    else await sleep(1);
  }
  return { sent, error };
}

const HEARTBEAT = { engineio: { ping_interval: 500, ping_timeout: 1000 } };

// A worker with a short heartbeat and a reader in room "flood"; got() is what the reader got.
async function floodRoom(t) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 1, redisUrl: redis.url, config: HEARTBEAT });
  const reader = await s.client(server.url, { channel: 'flood', userId: 'reader' });
  let n = 0;
  reader.on('chat', () => { n++; });
  return { s, server, got: () => n };
}

test('a sender that writes at full speed and never reads is kept until the heartbeat ends it', { timeout: 30_000 }, async (t) => {
  if (process.env.CHATD_TARGET === 'reference') return t.skip('chatd\'s limits and metrics');
  const { s, server, got } = await floodRoom(t);
  const c = s.track(await openEngineIO(server.port, { query: { channel: 'flood', userId: 'fast' }, autoPong: false }));
  assert.match(await c.connect(), /^40/);
  c.ws.sock.pause();  // from now on it reads nothing: it never sees the ping it should answer
  const t0 = Date.now();
  const { sent, error } = await flood(c, () => Date.now() - t0 > 15_000);
  const lived = Date.now() - t0;
  const m = await getMetrics(server.port);
  t.diagnostic(`sent ${sent} events in ${lived} ms before ${error ? error.code : 'the close'}; the reader got ${got()}`);
  assert.ok(c.ws.tcpClosed || error, 'chatd ended the connection');
  // Not before the pong was due (ping_interval + ping_timeout), nor long after it (plus the
  // 2 s lingering close, which reads until the client stops).
  assert.ok(lived >= 1400 && lived < 6000, `closed ${lived} ms after the flood began`);
  assert.equal(metric(m.samples, 'chatd_dropped_slow_total'), 0, 'not for its own output');
  assert.equal(metric(m.samples, 'chatd_output_budget_dropped_total'), 0, 'nor for the budget');
  assert.ok(metric(m.samples, 'chatd_limit_rate_dropped_total') > 0, 'over message_rate its events are dropped');
  assert.ok(got() > 0 && got() < sent, `the reader got the events within the rate (${got()} of ${sent})`);
  assert.equal(metric(m.samples, 'chatd_sessions'), 1, 'the reader stays');
  return undefined;
});

test('a sender that writes at full speed and reads only what it must keeps its session', { timeout: 30_000 }, async (t) => {
  if (process.env.CHATD_TARGET === 'reference') return t.skip('chatd\'s limits and metrics');
  const { s, server, got } = await floodRoom(t);
  // Reads what chatd sends it (pings, the rate-limit error), answers each ping, drops the rest.
  const c = s.track(await openEngineIO(server.port, { query: { channel: 'flood', userId: 'fast' } }));
  assert.match(await c.connect(), /^40/);
  const t0 = Date.now();
  const { sent, error } = await flood(c, () => Date.now() - t0 > 5000);
  t.diagnostic(`sent ${sent} events in 5 s through ${c.pings} pings; the reader got ${got()}`);
  assert.equal(error, null, 'no write error');
  assert.equal(c.ws.tcpClosed, false, 'still connected after ten ping intervals');
  assert.ok(c.pings >= 5, `it answered the pings (${c.pings})`);
  // Over the rate it is told so again after each event the refilling bucket lets through: about
  // message_rate small frames a second, which a sender that never reads accumulates.
  const told = c.ws.messages.filter((msg) => msg.text && msg.text.startsWith('42["error"'));
  t.diagnostic(`told ${told.length} times that it is over the rate, ${told.reduce((n, msg) => n + msg.data.length, 0)} bytes`);
  assert.ok(told.length > 0 && told.every((msg) => /"rate limited"/.test(msg.text)), 'told that it is over the rate');
  const m = await getMetrics(server.port);
  assert.equal(metric(m.samples, 'chatd_sessions'), 2, 'both sessions stay');
  return undefined;
});
