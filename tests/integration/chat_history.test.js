'use strict';
// A room's history (config history:): emitWithAck("history", {room?, limit}) answers with the
// room's last messages, oldest first, as they were delivered, bounded by history.max_messages,
// across workers (the history is in Redis, not in a worker).

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, isReference } = require('./lib/harness');

const TIMEOUT = { timeout: 60_000 };
const skip = isReference ? "history is chatd's own: the reference seed server has none" : false;

async function sendAll(sender, channel, n, from = 0) {
  for (let i = from; i < from + n; i++) {
    await sender.emitWithAck('message', { userId: 'a', channel, i });
  }
}

test('history answers the last N messages oldest first, as delivered, on another worker too', { ...TIMEOUT, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url });
  const a = await s.client(server.url, { channel: 'h1', userId: 'a' });
  const b = await s.client(server.url, { channel: 'h1', userId: 'b' });
  const got = collect(b, 'chat');
  await sendAll(a, 'h1', 10);
  await got.waitCount(10);
  const late = await s.client(server.url, { channel: 'h1', userId: 'c' });
  const last4 = await late.emitWithAck('history', { limit: 4 });
  // As delivered: the server's stamp included (the harness keeps it apart from the payload).
  const delivered = got.items.map((p, i) => (got.stamps[i] ? { ...got.stamps[i], ...p } : p));
  assert.deepEqual(last4, delivered.slice(6), 'the last 4, oldest first, as b got them');
  const all = await late.emitWithAck('history', { room: 'h1', limit: 1000 });
  assert.deepEqual(all, delivered, 'a limit past what there is: everything, in order');
  const none = await late.emitWithAck('history', {});
  assert.deepEqual(none, delivered, 'no limit: up to max_messages');
});

test('history is bounded by history.max_messages', { ...TIMEOUT, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 1, redisUrl: redis.url, config: { history: { max_messages: 5 } } });
  const a = await s.client(server.url, { channel: 'h2', userId: 'a' });
  await sendAll(a, 'h2', 300);
  const last = await a.emitWithAck('history', { limit: 50 });
  assert.deepEqual(last.map((p) => p.i), [295, 296, 297, 298, 299], 'at most max_messages, the newest');
  // MAXLEN ~ trims by whole stream nodes: the stream may hold a few more, never served.
  const len = await redis.command('XLEN', 'socket.io#/#h2#history');
  assert.ok(len < 300, `the stream is trimmed (XLEN ${len})`);
});

test('history refuses a room the member is not in, and a bad limit, saying why', { ...TIMEOUT, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 1, redisUrl: redis.url });
  const a = await s.client(server.url, { channel: 'h3', userId: 'a' });
  assert.deepEqual(await a.emitWithAck('history', { room: 'elsewhere' }), { error: 'not in that room' });
  assert.deepEqual(await a.emitWithAck('history', { limit: -1 }), { error: 'limit: expected a positive integer' });
  assert.deepEqual(await a.emitWithAck('history', { limit: 3 }), [], 'an empty room: no messages');
});

test('history.enabled false: a history event is not answered, messages still flow', { ...TIMEOUT, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 1, redisUrl: redis.url, config: { history: { enabled: false } } });
  const a = await s.client(server.url, { channel: 'h4', userId: 'a' });
  const b = await s.client(server.url, { channel: 'h4', userId: 'b' });
  const got = collect(b, 'chat');
  await sendAll(a, 'h4', 3);
  await got.waitCount(3);
  await assert.rejects(a.timeout(500).emitWithAck('history', { limit: 3 }), /timed out/);
  assert.equal(await redis.command('EXISTS', 'socket.io#/#h4#history'), 0, 'nothing stored');
});
