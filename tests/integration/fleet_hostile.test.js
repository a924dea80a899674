'use strict';
// Anyone who can PUBLISH on the fleet's Redis can send the adapter channels anything. Malformed and
// hostile messages on socket.io#/#, socket.io#/#<room>#, socket.io-request#/# and
// socket.io-response#/# (garbage bytes, truncated msgpack, lengths of 4 GB, nesting 100 000 deep,
// wrong types in every field, invalid UTF-8; all but one aimed at a room nobody is in) must not
// disturb chatd: no worker dies (same PIDs),
// no client is disconnected, and chats still flow on both workers and to a Node peer afterwards.

const test = require('node:test');
const assert = require('node:assert/strict');
const { collect, settle, waitFor } = require('./lib/harness');
const { startFleet, serverClients, peerClients, sumMetric } = require('./lib/fleet');
const { isReference } = require('./lib/harness');

// notepack.io, the adapter's own msgpack codec (a dependency of @socket.io/redis-adapter)
const msgpack = require(require.resolve('notepack.io', { paths: [require.resolve('@socket.io/redis-adapter')] }));

const ROOM = 'hostile-r';
const NOBODY = 'hostile-nobody'; // requests that would act name a room nobody is in
const hex = (h) => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const json = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

// msgpack of `value` with each string '~~' in it made the two bytes ff fe (not UTF-8).
function notUtf8(value) {
  const bytes = msgpack.encode(value);
  for (let at = bytes.indexOf(hex('a2 7e7e')); at >= 0; at = bytes.indexOf(hex('a2 7e7e'), at)) {
    bytes[at + 1] = 0xff;
    bytes[at + 2] = 0xfe;
  }
  return bytes;
}

function hostileMessages() {
  const broadcast = msgpack.encode(['hostile', { type: 2, data: ['chat', { userId: 'hostile', body: 'x' }], nsp: '/' }, { rooms: [NOBODY], except: [], flags: {} }]);
  const fetch = json({ uid: 'hostile', requestId: 'h1', type: 5, opts: { rooms: [NOBODY], except: [] } });
  const out = [
    ['empty', Buffer.alloc(0)],
    ['garbage', hex('8f3ac1c1ffd9c7c8 00 de ad be ef c1 c1 c1 94 12 a0 ff ff ff 00 11 22 33 44 55 66 77 88 99')],
    ['2 MB of 0xc1 (never used in msgpack)', Buffer.alloc(2 << 20, 0xc1)],
    ['array32 of 4G elements', hex('dd ffffffff c0')],
    ['map32 of 4G pairs', hex('df ffffffff')],
    ['str32 of 4 GB', hex('db ffffffff 616263')],
    ['bin32 of 4 GB', hex('c6 ffffffff 00')],
    ['ext32 of 4 GB', hex('c9 ffffffff 01 00')],
    ['broadcast head then array32 of 4G', hex('93 a7 686f7374696c65 dd ffffffff')],
    ['100 000 nested fixarrays', Buffer.concat([Buffer.alloc(100_000, 0x91), hex('c0')])],
    ['100 000 nested JSON arrays', json('['.repeat(100_000))],
    ['50 000 nested JSON objects', json(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`)],
    ['truncated JSON', json('{"uid":"hostile","requestId":"h2","type":5,"opts":{"rooms":["')],
    ['JSON with a lone surrogate and a NUL', json('{"uid":"\\ud800\\u0000","type":1,"requestId":"\\udfff"}')],
    ['a 0x7b then garbage', Buffer.concat([json('{'), hex('ff fe fd 00 c1')])],
    // wrong types, msgpack (the broadcast shape)
    ['msgpack nil', msgpack.encode(null)],
    ['msgpack number', msgpack.encode(12345)],
    ['msgpack string', msgpack.encode('not an array')],
    ['msgpack [1,2,3]', msgpack.encode([1, 2, 3])],
    ['packet not a map', msgpack.encode(['hostile', 'not a packet', { rooms: [NOBODY] }])],
    ['data not an array', msgpack.encode(['hostile', { type: 2, data: 'not an array', nsp: '/' }, { rooms: [NOBODY] }])],
    ['empty data', msgpack.encode(['hostile', { type: 2, data: [], nsp: '/' }, { rooms: [NOBODY] }])],
    ['event name not a string', msgpack.encode(['hostile', { type: 2, data: [42, 'x'], nsp: '/' }, { rooms: [NOBODY] }])],
    ['nsp a number', msgpack.encode(['hostile', { type: 2, data: ['chat', 1], nsp: 5 }, { rooms: [NOBODY] }])],
    ['rooms not an array', msgpack.encode(['hostile', { type: 2, data: ['chat', 1], nsp: '/' }, { rooms: 7, except: 'x' }])],
    ['rooms of wrong types', msgpack.encode(['hostile', { type: 2, data: ['chat', 1], nsp: '/' }, { rooms: [1, {}, null, [NOBODY]], except: [{}] }])],
    ['opts nil', msgpack.encode(['hostile', { type: 2, data: ['chat', 1], nsp: '/other' }, null])],
    ['packet type 99', msgpack.encode(['hostile', { type: 99, data: ['chat', 1], nsp: '/' }, { rooms: [NOBODY] }])],
    ['map with integer keys', hex('83 01 02 03 04 05 06')],
    ['timestamp ext', msgpack.encode(['hostile', { type: 2, data: ['chat', new Date(0)], nsp: '/' }, { rooms: [NOBODY] }])],
    ['invalid UTF-8 in a key and a value', notUtf8(['hostile', { type: 2, data: ['chat', { '~~': '~~' }], nsp: '/' }, { rooms: [NOBODY] }])],
    // the only one meant for the members: a chat whose body is not UTF-8 (Node delivers U+FFFD)
    ['invalid UTF-8 in a chat to the room', notUtf8(['hostile', { type: 2, data: ['chat', { userId: 'hostile', body: '~~' }], nsp: '/' }, { rooms: [ROOM], except: [], flags: {} }])],
    // wrong types, requests (JSON) and responses
    ['request type a string', json({ uid: 'hostile', requestId: 'h3', type: '5', opts: { rooms: [NOBODY] } })],
    ['request type 1e308', json('{"uid":"hostile","requestId":"h4","type":1e308}')],
    ['request type -1', json({ uid: 'hostile', requestId: 'h5', type: -1 })],
    ['request type 2.5', json({ uid: 'hostile', requestId: 'h6', type: 2.5 })],
    ['fetch with opts null', json({ uid: 'hostile', requestId: 'h7', type: 5, opts: null })],
    ['fetch with rooms a string', json({ uid: 'hostile', requestId: 'h8', type: 5, opts: { rooms: NOBODY, except: 7 } })],
    ['fetch with requestId an object', json({ uid: 'hostile', requestId: { a: 1 }, type: 5, opts: { rooms: [NOBODY] } })],
    ['join with rooms of wrong types', json({ uid: 'hostile', type: 2, opts: { rooms: [NOBODY], except: [] }, rooms: [{}, [], null, 1, true] })],
    ['join with rooms a number', json({ uid: 'hostile', type: 2, opts: { rooms: [NOBODY] }, rooms: 5 })],
    ['leave without opts', json({ uid: 'hostile', type: 3, rooms: [ROOM] })],
    ['disconnect with close a string', json({ uid: 'hostile', type: 4, opts: { rooms: [NOBODY], except: [] }, close: 'yes' })],
    ['server-side emit with data a string', json({ uid: 'hostile', type: 6, data: 'not an array' })],
    ['server-side emit with data empty, acked', json({ uid: 'hostile', requestId: 'h9', type: 6, data: [] })],
    ['broadcast request as JSON', json({ uid: 'hostile', requestId: 'h10', type: 7, packet: 'x', opts: { rooms: [NOBODY] } })],
    ['broadcast request, packet a number', msgpack.encode({ uid: 'hostile', requestId: 'h11', type: 7, packet: 5, opts: { rooms: [NOBODY] } })],
    ['response with clientCount a string', json({ requestId: 'h12', type: 8, clientCount: 'lots' })],
    ['response with sockets not an array', json({ requestId: 'h1', sockets: { not: 'an array' } })],
  ];
  for (let n = 1; n < broadcast.length; n++) out.push([`broadcast cut at ${n} of ${broadcast.length} bytes`, broadcast.subarray(0, n)]);
  for (let n = 1; n < fetch.length; n += 7) out.push([`fetch request cut at ${n} of ${fetch.length} bytes`, fetch.subarray(0, n)]);
  return out;
}

const CHANNELS = ['socket.io#/#', `socket.io#/#${ROOM}#`, 'socket.io-request#/#', 'socket.io-response#/#'];

test('hostile messages on the adapter channels do not disturb chatd: same workers, everyone connected, chats flow', { timeout: 90_000 }, async (t) => {
  const fleet = await startFleet(t);
  const { s, redis, server } = fleet;
  const members = [
    ...await serverClients(s, fleet, { tag: 'hostile', room: ROOM, n: 2 }),
    ...await peerClients(s, fleet, { tag: 'hostile', room: ROOM, n: 1 }),
  ];
  const userIdOf = (c) => c.io.opts.query.userId;
  const disconnects = [];
  for (const c of members) c.on('disconnect', (reason) => disconnects.push(`${userIdOf(c)}: ${reason}`));
  const workersBefore = server.workerPids();
  assert.equal(workersBefore.length, fleet.workers, `${fleet.workers} workers: ${workersBefore}`);

  const messages = hostileMessages();
  for (const channel of CHANNELS) {
    for (const [, bytes] of messages) await redis.command('PUBLISH', channel, bytes);
  }
  t.diagnostic(`${messages.length} messages on each of ${CHANNELS.length} channels`);
  await redis.command('PING'); // all delivered to the subscribers' sockets by now
  await settle();

  assert.deepEqual(server.workerPids(), workersBefore, `the same worker processes; log tail:\n${server.logTail(30)}`);
  assert.equal(server.exited, null, 'the master still runs');
  assert.deepEqual(disconnects, [], 'nobody was disconnected');
  if (!isReference) {
    // Dropped and counted, on the bus (broadcast channels) and by the adapter node (requests,
    // responses), on every worker (each reads every channel).
    const bus = await sumMetric(server.port, 'chatd_bus_bad_messages_total');
    const adapter = await sumMetric(server.port, 'chatd_adapter_bad_messages_total');
    assert.ok(bus > 0 && adapter > 0, `bad messages counted: bus ${bus}, adapter ${adapter}`);
  }

  const chats = new Map(members.map((c) => [c, collect(c, 'chat')]));
  for (const c of members) c.emit('message', { userId: userIdOf(c), body: `after, from ${userIdOf(c)}` });
  for (const c of members) {
    const want = members.filter((o) => o !== c).map((o) => `after, from ${userIdOf(o)}`).sort();
    await waitFor(() => chats.get(c).items.filter((p) => p && p.userId !== 'hostile').length >= want.length, {
      timeout: 5000, message: () => `${userIdOf(c)} to get ${want.length} chats after the hostile messages: ${JSON.stringify(chats.get(c).items)}`,
    });
    const got = chats.get(c).items.filter((p) => p && typeof p.body === 'string' && p.body.startsWith('after,')).map((p) => p.body).sort();
    assert.deepEqual(got, want, `${userIdOf(c)}: every other member's chat, once`);
  }
  assert.deepEqual(server.workerPids(), workersBefore, 'still the same worker processes');
});
