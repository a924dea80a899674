'use strict';
// A mixed fleet's broadcasts (socket.io#/# and socket.io#/#<room>#, notepack msgpack): every JSON
// type and Buffers cross between chatd (--workers 2) and a stock Node socket.io 4.8 peer with
// @socket.io/redis-adapter 8.3 both ways and arrive deep-equal, through the seed's gateway
// (`message` -> `chat`) and as the peer's own io.to(...).emit with several arguments. chatd is
// expected to turn each msgpack value into the JSON or binary attachment Node would send, and back.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle } = require('./lib/harness');
const { startFleet, serverClients, peerClients, assertSameData } = require('./lib/fleet');

// Every JSON type, and the msgpack encodings notepack picks for them (fixint, (u)int8..64,
// float64; fixstr, str8..32; fixarray, array16; fixmap, map16). Big numbers stop at ±2^63:
// notepack 3 writes an integral double as a uint64/int64 and wraps from 2^64 on (2^64, 1e21 and
// Number.MAX_VALUE arrive as 0 or garbage between two Node servers too), so no server can carry them.
const JSON_TYPES = {
  unicode: {
    hangul: '안녕하세요',
    emoji: '😀👍🏽👨‍👩‍👧‍👦🏳️‍🌈',
    astral: '𝄞𠜎𝟘',
    combining: 'e\u0301 n\u0303',
    rtl: 'שלום مرحبا',
    escapes: '"\\/\b\f\n\r\t\u0000\u001f\u007f\u2028\u2029',
    html: '</script><!-- & -->',
    'ключ 🔑': 'a key outside ASCII',
  },
  integers: [0, 1, -1, 31, 127, 128, 255, 256, -32, -33, -128, -129, 65535, 65536, -32768, -32769,
    4294967295, 4294967296, -2147483648, -2147483649, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
  big: [2 ** 53, -(2 ** 53), 2 ** 53 + 2, 2 ** 62 + 2 ** 40, 2 ** 63, -(2 ** 63)],
  fractional: [0.5, -0.1, 3.141592653589793, 1e-7, 5e-324, -2.2250738585072014e-308, 4503599627370495.5, 123456789.12345679],
  nested: { a: [1, [2, [3, [4, [5, { deep: { deeper: [[], {}] } }]]]]], empty: {}, none: [], '': 'empty key', 10: 'ten', 2: 'two' },
  nulls: [null, { n: null }],
  booleans: [true, false, { t: true, f: false }],
  long: 'ü'.repeat(40_000), // str32 in msgpack, 80 kB
  many: Array.from({ length: 70 }, (_, i) => ({ i, s: String(i) })), // array16, map in each
};

const BUFFERS = {
  small: Buffer.from([0, 1, 2, 127, 128, 255]),
  empty: Buffer.alloc(0),
  big: Buffer.alloc(70_000, 0xa5), // bin32 in msgpack
  inside: [{ b: Buffer.from('inside an array'), n: 1 }, Buffer.from([9])],
};

const PAYLOADS = [
  { kind: 'json', ...JSON_TYPES },
  { kind: 'binary', ...BUFFERS, with: JSON_TYPES.unicode },
  'a bare string 😀',
  [1, 'two', null, { three: 3 }],
];

const userIdOf = (socket) => socket.io.opts.query.userId;

// Sends every payload from `sender` (`message`) and checks that each receiver got each as `chat`,
// deep-equal and in order, and that the sender and `others` got nothing.
async function exchange(sender, receivers, others) {
  const got = receivers.map((r) => collect(r, 'chat'));
  const stray = [sender, ...others].map((o) => collect(o, 'chat'));
  let dropped = null;
  sender.once('disconnect', (reason) => { dropped = reason; });
  for (const p of PAYLOADS) sender.emit('message', p);
  for (const [i, g] of got.entries()) {
    await g.waitCount(PAYLOADS.length, { label: `${userIdOf(receivers[i])} from ${userIdOf(sender)}` }).catch((e) => {
      throw dropped ? new Error(`the sender ${userIdOf(sender)} was disconnected (${dropped}) by its server: one of the payloads was refused`) : e;
    });
  }
  await settle();
  for (const [i, g] of got.entries()) {
    assertSameData(g.items, PAYLOADS, `${userIdOf(receivers[i])} got what ${userIdOf(sender)} sent`);
  }
  for (const [i, g] of stray.entries()) assert.deepEqual(g.items, [], `${i === 0 ? 'the sender' : 'another room'} got nothing`);
}

test('mixed fleet: broadcasts between chatd and a Node peer arrive deep-equal', { timeout: 120_000 }, async (t) => {
  const fleet = await startFleet(t);
  const sub = (name, fn) => t.test(name, { timeout: 30_000 }, (st) => fn(scope(st), st));

  await sub('every JSON type and Buffers from a Node peer client reach chatd clients on both workers', async (s) => {
    const tag = 'node-to-chatd';
    const chatd = await serverClients(s, fleet, { tag, room: tag, n: 2 });
    const [sender, other] = await peerClients(s, fleet, { tag, room: tag, n: 2, transports: ['websocket'] });
    const elsewhere = await serverClients(s, fleet, { tag: `${tag}-x`, room: `${tag}-x`, n: 1 });
    await exchange(sender, [...chatd, other], elsewhere);
  });

  await sub('every JSON type and Buffers from a chatd client reach Node peer clients over both transports', async (s) => {
    const tag = 'chatd-to-node';
    const [sender, ...chatd] = await serverClients(s, fleet, { tag, room: tag, n: 3 });
    const ws = await peerClients(s, fleet, { tag: `${tag}-ws`, room: tag, n: 1, transports: ['websocket'] });
    const polling = await peerClients(s, fleet, { tag: `${tag}-p`, room: tag, n: 1, transports: ['polling'] });
    const elsewhere = await peerClients(s, fleet, { tag: `${tag}-x`, room: `${tag}-x`, n: 1 });
    await exchange(sender, [...chatd, ...ws, ...polling], elsewhere);
  });

  // The peer's own io.to(room).emit(event, ...args): several arguments, a Buffer at the top level,
  // an event name that is not `chat`; to one room (socket.io#/#<room>#), to two rooms and with
  // except (the base channel socket.io#/#, rooms and except in the message's opts).
  await sub('the Node peer\'s io.to(...).except(...).emit with several arguments reaches exactly the chosen chatd clients', async (s) => {
    const tag = 'peer-emit';
    const a = await serverClients(s, fleet, { tag: `${tag}-a`, room: `${tag}-a`, n: 2 });
    const b = await serverClients(s, fleet, { tag: `${tag}-b`, room: `${tag}-b`, n: 2 });
    const c = await serverClients(s, fleet, { tag: `${tag}-c`, room: `${tag}-c`, n: 1 });
    const all = [...a, ...b, ...c];
    const got = new Map(all.map((x) => [x, collect(x, 'fleet-types')]));
    const args = (n) => [n, JSON_TYPES, BUFFERS.small, BUFFERS.inside, null, true];
    const cases = [
      [{ rooms: [`${tag}-a`] }, a],
      [{ rooms: [`${tag}-a`, `${tag}-b`] }, [...a, ...b]],
      [{ rooms: [`${tag}-a`, `${tag}-b`], except: [b[0].id] }, [...a, ...b.slice(1)]],
      [{ rooms: [`${tag}-c`, c[0].id] }, c],
    ];
    for (const [i, [sel]] of cases.entries()) await fleet.peer.call('emit', { ...sel, event: 'fleet-types', args: args(i) });
    for (const x of all) {
      const want = cases.map(([, to], i) => (to.includes(x) ? i : -1)).filter((i) => i >= 0);
      await got.get(x).waitCount(want.length, { label: userIdOf(x) });
    }
    await settle();
    for (const x of all) {
      const want = cases.map(([, to], i) => (to.includes(x) ? args(i) : null)).filter(Boolean);
      assertSameData(got.get(x).args, want, `${userIdOf(x)}: each broadcast meant for it, once, all arguments`);
    }
  });
});
