'use strict';
// Binary `message` payloads (Buffers anywhere in the payload: socket.io's BINARY_EVENT with
// attachments) reach every other member of the room as `chat` with the same bytes: on the same
// worker, across instances through Redis (each attachment a msgpack bin, as Node's adapter sends
// a Buffer), and across a mixed fleet of chatd and a Node socket.io server with
// @socket.io/redis-adapter, in both directions, over both transports.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, isReference, plainData: plain } = require('./lib/harness');

const TIMEOUT = { timeout: 60_000 };

function payload(i) {
  return {
    userId: 'a1',
    seq: i,
    img: Buffer.from([0, 1, 2, 255, i & 0xff]),
    parts: [Buffer.alloc(300 + i, i & 0xff), 2, { deep: Buffer.from(`part-${i}`) }],
  };
}

async function exchange(s, sender, receivers, others, count = 5) {
  const got = receivers.map((r) => collect(r, 'chat'));
  const stray = others.map((o) => collect(o, 'chat'));
  const mine = collect(sender, 'chat');
  for (let i = 0; i < count; i++) sender.emit('message', payload(i));
  for (const g of got) await g.waitCount(count, { label: 'binary chat messages' });
  await settle();
  const expected = Array.from({ length: count }, (_, i) => plain(payload(i)));
  for (const g of got) assert.deepEqual(g.items.map(plain), expected);
  assert.equal(mine.items.length, 0, 'the sender gets nothing back');
  for (const o of stray) assert.equal(o.items.length, 0, 'another room gets nothing');
}

test('a binary payload reaches the room with its bytes, on one instance', TIMEOUT, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const srv = await s.server({ workers: 1, redisUrl: redis.url });
  const a = await s.client(srv.url, { channel: 'r1', userId: 'a' });
  const b = await s.client(srv.url, { channel: 'r1', userId: 'b' });
  const p = await s.client(srv.url, { channel: 'r1', userId: 'p', transports: ['polling'] });
  const other = await s.client(srv.url, { channel: 'r2', userId: 'o' });
  await exchange(s, a, [b, p], [other]);
});

test('a binary payload crosses instances through Redis, both ways and both transports', TIMEOUT, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const s1 = await s.server({ workers: 1, redisUrl: redis.url });
  const s2 = await s.server({ workers: 1, redisUrl: redis.url });
  const a1 = await s.client(s1.url, { channel: 'r1', userId: 'a1' });
  const a2 = await s.client(s2.url, { channel: 'r1', userId: 'a2' });
  const p2 = await s.client(s2.url, { channel: 'r1', userId: 'p2', transports: ['polling'] });
  const o2 = await s.client(s2.url, { channel: 'r2', userId: 'o2' });
  await exchange(s, a1, [a2, p2], [o2]);
  await exchange(s, p2, [a1, a2], [o2]);
});

test('a mixed fleet: binary payloads cross between chatd and a Node socket.io server with the Redis adapter', { ...TIMEOUT, skip: isReference && 'needs chatd beside the reference' }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const chatd = await s.chatd({ workers: 1, redisUrl: redis.url });
  const node = await s.reference({ workers: 1, redisUrl: redis.url });
  const c = await s.client(chatd.url, { channel: 'mix', userId: 'c' });
  const n = await s.client(node.url, { channel: 'mix', userId: 'n' });
  const np = await s.client(node.url, { channel: 'mix', userId: 'np', transports: ['polling'] });
  const other = await s.client(chatd.url, { channel: 'elsewhere', userId: 'x' });
  await exchange(s, c, [n, np], [other]);  // chatd -> Redis -> Node
  await exchange(s, n, [c, np], [other]);  // Node -> Redis -> chatd
});
