'use strict';
/*
 * Captures the adapter's request/response channel bytes for tests/unit/test_bus_request.cpp, and
 * checks chatd-encoded responses against the real adapter.
 *
 *   cd tests && npm ci && npm install --no-save @socket.io/redis-emitter@^5
 *   node tools/capture_bus_requests.js > /tmp/captured.json     # then paste what changed
 *   (test_bus_request.cpp's fixtures are `captured[i].text`, or `.hex` for msgpack, in order)
 *
 * World: a real redis-server on a free loopback port (stopped by PID at the end), two Socket.IO 4.8
 * servers A and B with @socket.io/redis-adapter 8.3 (classic pub/sub), clients on B, and a plain
 * PSUBSCRIBE recorder on the request/response channels (a pattern, so PUBSUB NUMSUB, which the
 * adapter uses to count peers, does not count it). uid2 is made deterministic (id0000, id0001, ...)
 * so requestIds in the fixtures are stable between runs; only handshake time/issued vary.
 *
 * Phase 2 ("chatd as a peer"): B is closed, a fake peer P takes its place on the request channel
 * and answers each request of A with the chatd-encoded bytes pasted below (requestId "RQ____"
 * replaced by the real one, same length so msgpack headers stay valid); the script checks that
 * A's fetchSockets/allRooms/serverSideEmit/timeout().emit resolve with the expected values.
 * Exit status 0 only when every check passed.
 */

const path = require('node:path');
const assert = require('node:assert/strict');

const adapterDir = path.dirname(require.resolve('@socket.io/redis-adapter/package.json'));
const uid2Path = require.resolve('uid2', { paths: [adapterDir] });
let nextId = 0;
require(uid2Path);
require.cache[uid2Path].exports = (len) => `id${String(nextId++).padStart(4, '0')}`.slice(0, len);

const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const ioc = require('socket.io-client');
const { startRedis } = require('../integration/lib/harness');

let Emitter = null;
try {
  ({ Emitter } = require('@socket.io/redis-emitter'));
} catch {
  // optional: the emitter's fixtures are skipped without it
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// chatd's encoder output for phase 2 (tests/unit/test_bus_request.cpp "chatd-encoded ... "
// cases assert the same bytes), requestId "RQ____".
const CHATD = {
  all_rooms: Buffer.from('{"requestId":"RQ____","rooms":["room1","p1"]}'),
  fetch: Buffer.from(
    '{"requestId":"RQ____","sockets":[{"id":"p1","handshake":{"headers":{"host":"x"},' +
      '"time":"Thu Jan 01 2026","address":"127.0.0.1","xdomain":false,"secure":false,' +
      '"issued":1767225600000,"url":"/socket.io/?EIO=4&transport=websocket",' +
      '"query":{"channel":"room1"},"auth":{"token":"t"}},"rooms":["p1","room1"],' +
      '"data":{"userId":"u1"}}]}'),
  sse_ack: Buffer.from('{"type":6,"requestId":"RQ____","data":["pong",2]}'),
  client_count: Buffer.from('{"type":8,"requestId":"RQ____","clientCount":1}'),
  // msgpack {type:9, requestId:"RQ____", packet:["ok", <Buffer 01 02>]}
  broadcast_ack: Buffer.from('83a47479706509a9726571756573744964a652515f5f5f5fa67061636b657492a26f6bc4020102', 'hex'),
};

async function main() {
  const redis = await startRedis();
  const out = [];
  const clients = [];
  const closers = [];
  try {
    const mk = async () => {
      const c = createClient({ url: redis.url });
      await c.connect();
      closers.push(() => c.quit().catch(() => {}));
      return c;
    };
    // The recorder: every message on socket.io-request#/# and socket.io-response#/#... in order.
    const rec = await mk();
    let label = 'setup';
    await rec.pSubscribe(['socket.io-request#*', 'socket.io-response#*'], (msg, channel) => {
      out.push({ label, channel: channel.toString(), hex: msg.toString('hex'), text: msg[0] === 0x7b ? msg.toString() : undefined });
    }, true);

    const server = async (name) => {
      const io = new Server();
      io.adapter(createAdapter(await mk(), await mk()));
      io.listen(0);
      closers.push(() => io.close());
      io.name = name;
      return io;
    };
    const A = await server('A');
    const B = await server('B');
    const portB = B.httpServer.address().port;
    B.on('connection', (s) => {
      s.join(s.handshake.query.channel);
      s.data = { userId: s.handshake.query.userId };
    });
    B.on('sse', () => {});
    B.on('sse-ack', (arg, cb) => cb(['pong', arg]));
    const connect = (channel, userId) => new Promise((resolve, reject) => {
      const c = ioc(`http://127.0.0.1:${portB}`, {
        transports: ['websocket'], query: { channel, userId }, auth: { token: 't' }, reconnection: false,
      });
      clients.push(c);
      c.on('connect', () => resolve(c));
      c.on('connect_error', reject);
      c.on('ask', (...args) => { const cb = args.pop(); if (typeof cb === 'function') cb({ ok: true, got: typeof args[0], bin: Buffer.from([1, 2]) }); else console.error('ask without ack', label, args, cb); });
    });
    const c1 = await connect('room1', 'u1');
    await connect('kick1', 'u2');
    await connect('kick2', 'u3');
    await sleep(100);

    const step = async (name, fn) => {
      label = name;
      await fn();
      await sleep(150); // let the answers arrive while the label is still this step's
    };
    await step('fetchSockets all', () => A.fetchSockets());
    await step('fetchSockets in room1 except kick1', () => A.in('room1').except('kick1').fetchSockets());
    await step('allRooms', () => A.of('/').adapter.allRooms());
    await step('socketsJoin room2', () => A.socketsJoin('room2'));
    await step('socketsLeave in room1 [room2, room3]', () => A.in('room1').socketsLeave(['room2', 'room3']));
    await step('disconnectSockets(false) in kick1', () => A.in('kick1').disconnectSockets(false));
    await step('disconnectSockets(true) in kick2', () => A.in('kick2').disconnectSockets(true));
    await step('serverSideEmit no ack', () => A.serverSideEmit('sse', { a: 1 }, [1, 2.5], 'x'));
    await step('serverSideEmit with ack', () => new Promise((resolve) => {
      A.serverSideEmit('sse-ack', 2, (err, res) => resolve(res));
    }));
    await step('serverSideEmitWithAck', () => A.serverSideEmitWithAck('sse-ack', 3));
    await step('timeout().emit with ack', () => A.timeout(2000).emitWithAck('ask', 'q'));
    await step('timeout().emit binary with ack in room1', () =>
      A.to('room1').timeout(2000).emitWithAck('ask', Buffer.from([0xde, 0xad]), { n: 1 }));
    // socket.io-redis 6.x senders (8.3 still answers them): SOCKETS, and the single-socket join.
    await step('legacy SOCKETS (6.x form)', () => A.of('/').adapter.pubClient.publish('socket.io-request#/#',
      JSON.stringify({ uid: 'legacy', requestId: 'lg0001', type: 0, rooms: ['room1'] })));
    await step('legacy REMOTE_JOIN sid/room (6.x form)', () => A.of('/').adapter.pubClient.publish(
      'socket.io-request#/#', JSON.stringify({ uid: 'legacy', requestId: 'lg0002', type: 2, sid: c1.id, room: 'r9' })));
    if (Emitter) {
      const em = new Emitter(await mk());
      await step('emitter socketsJoin', () => em.in('room1').socketsJoin('e1'));
      await step('emitter socketsLeave', () => em.except('room1').socketsLeave(['e1', 'e2']));
      await step('emitter disconnectSockets', () => em.in('nobody').disconnectSockets(true));
      await step('emitter serverSideEmit', () => em.serverSideEmit('sse', 'from-emitter', 7));
    }

    // Phase 1's captures go to stderr as well, so a failing phase 2 does not lose them.
    process.stderr.write(JSON.stringify(out) + '\n');
    // Phase 2: B leaves; P (answering with chatd's bytes) is the only other peer.
    label = 'phase2';
    for (const c of clients) c.close();
    B.close();
    await sleep(200);
    const p = await mk();
    const pub = await mk();
    await p.subscribe('socket.io-request#/#', (msg) => {
      if (msg[0] !== 0x7b) return; // BROADCAST with ack is msgpack: handled below
      const req = JSON.parse(msg.toString());
      const reply = { 1: CHATD.all_rooms, 5: CHATD.fetch, 6: CHATD.sse_ack }[req.type];
      if (reply && req.requestId) {
        pub.publish('socket.io-response#/#', Buffer.from(reply.toString('latin1').replace('RQ____', req.requestId), 'latin1'));
      }
    }, true);
    await p.subscribe('socket.io-request#/#', () => {}, true);
    await p.pSubscribe('socket.io-request#*', (msg) => {
      if (msg[0] === 0x7b) return;
      const id = msg.toString('latin1').match(/requestId\xa6(.{6})/)[1];
      for (const r of [CHATD.client_count, CHATD.broadcast_ack]) {
        pub.publish('socket.io-response#/#', Buffer.from(r.toString('latin1').replace('RQ____', id), 'latin1'));
      }
    }, true);
    const checks = [];
    const rooms = await A.of('/').adapter.allRooms();
    assert.deepEqual([...rooms].sort(), ['p1', 'room1']);
    checks.push('allRooms resolves with chatd rooms');
    const sockets = await A.fetchSockets();
    assert.equal(sockets.length, 1);
    assert.equal(sockets[0].id, 'p1');
    assert.deepEqual([...sockets[0].rooms], ['p1', 'room1']);
    assert.deepEqual(sockets[0].data, { userId: 'u1' });
    assert.deepEqual(sockets[0].handshake.query, { channel: 'room1' });
    assert.deepEqual(sockets[0].handshake.auth, { token: 't' });
    assert.equal(sockets[0].handshake.issued, 1767225600000);
    checks.push('fetchSockets resolves with chatd socket');
    const acks = await A.serverSideEmitWithAck('sse-ack', 1);
    assert.deepEqual(acks, [['pong', 2]]);
    checks.push('serverSideEmitWithAck resolves with chatd ack');
    const backs = await A.timeout(1000).emitWithAck('ask', 'q');
    assert.deepEqual(backs, [['ok', Buffer.from([1, 2])]]);
    checks.push('timeout().emit resolves with chatd BROADCAST_ACK (count 1)');
    process.stdout.write(JSON.stringify({ captured: out, checks }, null, 1) + '\n');
  } finally {
    for (const c of clients) c.close();
    for (const f of closers.reverse()) await f();
    await redis.stop();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
