'use strict';
// Stopping: SIGTERM (or SIGINT) makes every worker stop accepting, close its clients with a
// WebSocket "going away" after flushing what was queued for them, and exit; the master exits 0
// once they are gone. A second signal kills at once; a worker that does not finish is killed after
// shutdown_timeout + 5 s.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, waitFor, settle, isReference } = require('./lib/harness');
const { liveWorkers, member, say, checkExactlyOnce } = require('./lib/process');

const skip = isReference ? 'the stop sequence is chatd\'s own' : false;

// A close the client can tell apart from a crash: the server ended it (Socket.IO DISCONNECT), or
// the WebSocket closed with 1001 going away.
function cleanClose(d) {
  if (!d) return 'no disconnect';
  if (d.reason === 'io server disconnect') return null;
  if (d.reason !== 'transport close') return `reason ${d.reason}`;
  const code = d.details && d.details.context && d.details.context.code;
  return code === 1001 ? null : `transport close with WebSocket code ${code}`;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('SIGTERM under load: every client gets a going-away close and the master exits 0 long before shutdown_timeout', { timeout: 90_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, config: { shutdown_timeout: '30s' } });
  await server.waitForLog(/all 2 workers ready/);
  const members = [];
  for (let i = 0; i < 16; i++) members.push(await member(s, server.url, `room${i % 2}`, `u${i}`));
  assert.equal(new Set(members.map((m) => m.slot)).size, 2, 'both workers hold clients');

  let sent = 0;
  const timers = members.map((m) => setInterval(() => {
    if (m.socket.connected) {
      m.socket.emit('message', { userId: m.userId, channel: m.room, body: `load${sent++}` });
    }
  }, 5));
  s.defer(() => timers.forEach(clearInterval));
  await waitFor(() => members.every((m) => m.chats.items.length > 200), { timeout: 20_000, message: 'traffic in every room' });

  // The harness kills after 20 s; the workers have 30 s: only a stop that finishes by itself passes.
  const result = await server.stop({ timeout: 20_000 });
  timers.forEach(clearInterval);
  assert.deepEqual(result, { code: 0, signal: null, forced: false }, server.logTail(20));
  await waitFor(() => members.every((m) => m.disconnects.length > 0), { message: 'every client to see its close' });
  const unclean = members.map((m) => [m.userId, cleanClose(m.disconnects[0])]).filter(([, why]) => why);
  assert.deepEqual(unclean, [], 'every client saw a clean close');
  t.diagnostic(`messages sent under load before the stop: ${sent}`);
  assert.ok(server.logs.some((l) => /stopping: 2 workers told to finish/.test(l)));
  assert.ok(server.logs.some((l) => /every worker has exited; master exits with status 0/.test(l)));
  assert.equal(server.logs.filter((l) => /killing/.test(l)).length, 0, 'nobody needed SIGKILL');
});

test('SIGTERM with one worker: every message acknowledged before the stop reaches the room\'s other members before their close', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 1, redisUrl: redis.url, config: { shutdown_timeout: '30s' } });
  const members = [];
  for (let i = 0; i < 6; i++) members.push(await member(s, server.url, 'flush', `u${i}`));
  const acked = new Map(members.map((m) => [m.userId, []]));
  let stopping = false;
  const senders = members.map(async (m) => {
    for (let i = 0; !stopping; i++) {
      try {
        await say(m, `${m.userId}-${i}`, { timeout: 3000 });
        acked.get(m.userId).push(`${m.userId}-${i}`);
      } catch {
        return; // closed by the stop
      }
    }
  });
  await waitFor(() => [...acked.values()].every((l) => l.length >= 10), { message: 'messages acknowledged' });
  const result = await server.stop({ timeout: 20_000 });
  stopping = true;
  await Promise.all(senders);
  assert.deepEqual(result, { code: 0, signal: null, forced: false }, server.logTail(20));

  const problems = [];
  for (const m of members) {
    const want = [...acked].filter(([id]) => id !== m.userId).flatMap(([, bodies]) => bodies);
    problems.push(...checkExactlyOnce(m, want));
    const why = cleanClose(m.disconnects[0]);
    if (why) problems.push(`${m.userId}: ${why}`);
  }
  assert.deepEqual(problems, []);
});

test('a second SIGTERM during a stop kills the workers at once and the master exits 0', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, config: { shutdown_timeout: '30s' } });
  await server.waitForLog(/all 2 workers ready/);
  // A stopped worker cannot finish: without the second signal the stop would take 35 s.
  const [stuck] = liveWorkers(server);
  process.kill(stuck.pid, 'SIGSTOP');
  s.defer(() => alive(stuck.pid) && process.kill(stuck.pid, 'SIGKILL'));

  const stopped = server.stop({ timeout: 20_000 });
  await server.waitForLog(/stopping: 2 workers told to finish/);
  server.signal('SIGTERM');
  const result = await stopped;
  assert.deepEqual(result, { code: 0, signal: null, forced: false }, server.logTail(20));
  assert.ok(server.logs.some((l) => /stop requested again: killing \d+ workers now/.test(l)), server.logTail(10));
  assert.equal(alive(stuck.pid), false, 'the stuck worker is gone');
});

test('a worker that does not finish is killed after shutdown_timeout + 5 s; the master still exits 0', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, config: { shutdown_timeout: '1s' } });
  await server.waitForLog(/all 2 workers ready/);
  const [stuck] = liveWorkers(server);
  process.kill(stuck.pid, 'SIGSTOP');
  s.defer(() => alive(stuck.pid) && process.kill(stuck.pid, 'SIGKILL'));

  const result = await server.stop({ timeout: 20_000 });
  assert.deepEqual(result, { code: 0, signal: null, forced: false }, server.logTail(20));
  assert.ok(server.logs.some((l) => new RegExp(`worker ${stuck.slot} \\(pid ${stuck.pid}\\) did not finish within shutdown_timeout: killing it`).test(l)), server.logTail(10));
  assert.equal(alive(stuck.pid), false);
});

test('SIGINT stops gracefully like SIGTERM; a worker ignores SIGINT (Ctrl-C reaches the whole group)', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url });
  await server.waitForLog(/all 2 workers ready/);
  const m = await member(s, server.url, 'int', 'a');
  const pids = server.workerPids();
  for (const pid of pids) process.kill(pid, 'SIGINT');
  await settle();
  assert.deepEqual(server.workerPids(), pids, 'SIGINT to a worker changes nothing');
  assert.deepEqual(m.disconnects, []);

  const result = await server.stop({ signal: 'SIGINT', timeout: 20_000 });
  assert.deepEqual(result, { code: 0, signal: null, forced: false }, server.logTail(20));
  await waitFor(() => m.disconnects.length === 1, { message: 'the client to see its close' });
  assert.equal(cleanClose(m.disconnects[0]), null);
});
