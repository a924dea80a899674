'use strict';
// A `message` sent with an acknowledgement callback is acknowledged (once, with {bus}: whether it
// reached the Redis bus, and chatd's stamp id) and still delivered.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, waitFor } = require('./lib/harness');
const { openEngineIO } = require('./lib/rawws');

const TIMEOUT = { timeout: 60_000 };

async function pair(t) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 1, redisUrl: redis.url });
  const a = await s.client(server.url, { channel: 'ack', userId: 'a' });
  const b = await s.client(server.url, { channel: 'ack', userId: 'b' });
  return { s, server, a, b };
}

test('emit(message, payload, callback) calls the callback and delivers the payload', TIMEOUT, async (t) => {
  const { a, b } = await pair(t);
  const got = collect(b, 'chat');
  const payload = { userId: 'a', channel: 'ack', body: 'with ack' };
  const acks = [];
  a.emit('message', payload, (...args) => acks.push(args));
  await waitFor(() => acks.length === 1, { message: 'the ack callback to be called' });
  await got.waitCount(1);
  assert.deepEqual(got.items, [payload], 'the acked message is delivered, without the ack id');
  // chatd's ack also names the id it stamped on the delivered message; the seed has no stamp.
  const stamp = got.stamps[0];
  assert.deepEqual(acks[0], [stamp ? { bus: true, id: stamp.id } : { bus: true }],
    'one argument: the broadcast reached the bus (Redis is up), with the stamp\'s id (chatd)');
  await settle();
  assert.equal(acks.length, 1, 'the callback is called once');
});

test('emitWithAck resolves, also with a timeout set', TIMEOUT, async (t) => {
  const { a, b } = await pair(t);
  const got = collect(b, 'chat');
  await a.emitWithAck('message', { userId: 'a', channel: 'ack', body: 'one' });
  await a.timeout(5000).emitWithAck('message', { userId: 'a', channel: 'ack', body: 'two' });
  await got.waitCount(2);
  assert.deepEqual(got.items.map((p) => p.body), ['one', 'two']);
});

test('many acks in flight are each answered once, matched to their ids', TIMEOUT, async (t) => {
  const { a, b } = await pair(t);
  const got = collect(b, 'chat');
  const n = 100;
  const calls = new Array(n).fill(0);
  const all = [];
  for (let i = 0; i < n; i++) {
    all.push(new Promise((resolve) => {
      a.emit('message', { userId: 'a', channel: 'ack', i }, () => {
        calls[i]++;
        resolve();
      });
    }));
  }
  await Promise.all(all);
  await got.waitCount(n);
  await settle();
  assert.deepEqual(calls, new Array(n).fill(1));
  assert.deepEqual(got.items.map((p) => p.i), Array.from({ length: n }, (_, i) => i));
});

test('the ack is an ACK packet with the request\'s id and an array (raw client)', TIMEOUT, async (t) => {
  const { s, server } = await pair(t);
  const raw = s.track(await openEngineIO(server.port, { query: { channel: 'ack', userId: 'raw' } }));
  await raw.connect();
  for (const id of [0, 7, 123456]) {
    raw.send(`42${id}["message",{"userId":"raw","channel":"ack","body":"x"}]`);
    const reply = await raw.next({ label: `the ACK for id ${id}`, match: (x) => x.startsWith('43') });
    const m = /^43(\d+)(\[.*\])$/.exec(reply);
    assert.ok(m, `ACK packet shape 43<id>[...]: ${JSON.stringify(reply)}`);
    assert.equal(Number(m[1]), id);
    assert.ok(Array.isArray(JSON.parse(m[2])));
  }
});

test('a message without a callback gets no ACK packet', TIMEOUT, async (t) => {
  const { s, server, b } = await pair(t);
  const raw = s.track(await openEngineIO(server.port, { query: { channel: 'ack', userId: 'raw' } }));
  await raw.connect();
  const got = collect(b, 'chat');
  raw.send('42["message",{"body":"no ack"}]');
  await got.waitCount(1);
  await settle();
  const acks = raw.ws.messages.filter((m) => m.text && m.text.startsWith('43'));
  assert.deepEqual(acks, []);
});
