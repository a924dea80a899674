'use strict';
/*
 * Captures the bytes @socket.io/redis-adapter 8.3's SHARDED adapter (createShardedAdapter, built on
 * socket.io-adapter 2.5's ClusterAdapter) publishes, for tests/unit/test_sharded_wire.cpp.
 *
 *   cd tests && node tools/capture_sharded_messages.js > fixtures/sharded_messages.json
 *
 * World: a real redis-server 7 on a free loopback port (standalone: SSUBSCRIBE/SPUBLISH exist
 * there too; stopped by PID at the end), two Socket.IO 4.8 servers A and B with
 * createShardedAdapter(pub, sub) from node-redis v4 (subscriptionMode "dynamic", the default),
 * socket.io-client clients on B. Each server's publishing client is wrapped: every sPublish call
 * is recorded with its channel and its exact payload (the adapter's encode() output), in order.
 * A recorder SSUBSCRIBEd to the namespace channel would be counted by SHARDNUMSUB (the adapter's
 * serverCount) and make every request wait for an answer that never comes, so the recording is
 * done where the bytes leave instead. The adapter's uid and requestIds come from
 * crypto.randomBytes(8): made deterministic so the fixtures are stable between runs (socket ids
 * and handshake times still vary).
 *
 * The sharded adapter is a plain ClusterAdapter: it never sends INITIAL_HEARTBEAT (1),
 * HEARTBEAT (2) or ADAPTER_CLOSE (13). Those three are built the way ClusterAdapterWithHeartbeat
 * builds them ({type} then publishAndReturnOffset's uid and nsp) and encoded with the adapter's
 * own encode(); they are marked "constructed": true.
 */

const crypto = require('node:crypto');

let nextRandom = 1;
const realRandomBytes = crypto.randomBytes;
crypto.randomBytes = (n, cb) => {
  if (n === 8 && cb === undefined) {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(nextRandom++, 4);
    return b;
  }
  return realRandomBytes(n, cb);
};

const { Server } = require('socket.io');
const { createShardedAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const ioc = require('socket.io-client');
const { startRedis } = require('../integration/lib/harness');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const redis = await startRedis();
  const out = [];
  const clients = [];
  const closers = [];
  let label = 'setup';
  try {
    const mk = async () => {
      const c = createClient({ url: redis.url });
      await c.connect();
      closers.push(() => c.quit().catch(() => {}));
      return c;
    };
    const server = async (name) => {
      const pub = await mk();
      const sPublish = pub.sPublish.bind(pub);
      pub.sPublish = (channel, payload) => {
        const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
        out.push({
          description: label, from: name, channel,
          encoding: bytes[0] === 0x7b ? 'json' : 'msgpack',
          hex: bytes.toString('hex'),
          text: bytes[0] === 0x7b ? bytes.toString() : undefined,
        });
        return sPublish(channel, payload);
      };
      const io = new Server();
      io.adapter(createShardedAdapter(pub, await mk()));
      io.listen(0);
      closers.push(() => io.close());
      return io;
    };
    const A = await server('A');
    const B = await server('B');
    const portB = B.httpServer.address().port;
    B.on('connection', (s) => {
      s.join(s.handshake.query.channel);
      s.data = s.handshake.query.userId === 'ub'
        ? { userId: 'ub', avatar: Buffer.from([0xff, 0x00]) }
        : { userId: s.handshake.query.userId };
    });
    B.on('sse', () => {});
    B.on('sse-ack', (arg, cb) => cb(['pong', arg]));
    B.on('sse-bin', (cb) => cb({ blob: Buffer.from([7, 8]) }));
    B.on('sse-undefined', (cb) => cb());
    const connect = (channel, userId) => new Promise((resolve, reject) => {
      const c = ioc(`http://127.0.0.1:${portB}`, {
        transports: ['websocket'], query: { channel, userId }, auth: { token: 't' }, reconnection: false,
      });
      clients.push(c);
      c.on('connect', () => resolve(c));
      c.on('connect_error', reject);
      c.on('ask', (...args) => args.pop()({ ok: true, got: typeof args[0] }));
      c.on('ask-bin', (...args) => args.pop()(['ok', Buffer.from([1, 2])]));
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
    await step('broadcast to all', () => A.emit('chat', 'hello', { n: 1, f: 2.5 }));
    await step('broadcast to one room', () => A.to('room1').emit('chat', { text: 'hi room1' }));
    await step('broadcast to one socket id (namespace channel)', () => A.to(c1.id).emit('dm', 'psst'));
    await step('broadcast to several rooms', () => A.to(['room1', 'kick1']).emit('chat', 'two rooms'));
    await step('broadcast except', () => A.except('kick1').emit('chat', 'not kick1'));
    await step('broadcast to one room except', () => A.to('room1').except('kick2').emit('chat', 'x'));
    await step('broadcast with binary', () =>
      A.emit('file', Buffer.from([1, 2, 3]), { meta: { thumb: Buffer.from([4]) }, name: 'a.bin' }));
    await step('broadcast with binary to one room', () => A.to('room1').emit('file', Buffer.from([9])));
    await step('broadcast volatile', () => A.volatile.emit('tick', 1));
    await step('broadcast with ack (timeout)', () => A.timeout(2000).emitWithAck('ask', 'q'));
    await step('broadcast with ack to one room, binary acks', () =>
      A.to('room1').timeout(1500).emitWithAck('ask-bin'));
    await step('broadcast with ack and binary', () =>
      A.to('room1').timeout(1000).emitWithAck('ask', Buffer.from([0xde, 0xad])));
    await step('socketsJoin', () => A.socketsJoin('room2'));
    await step('socketsJoin in room1 except kick1, two rooms', () =>
      A.in('room1').except('kick1').socketsJoin(['r3', 'r4']));
    await step('socketsLeave in room1', () => A.in('room1').socketsLeave(['room2', 'r3']));
    await step('fetchSockets', () => A.fetchSockets());
    await step('fetchSockets in room1 with timeout', () => A.in('room1').timeout(3000).fetchSockets());
    await step('serverSideEmit without ack', () => A.serverSideEmit('sse', { a: 1 }, [1, 2.5], 'x'));
    await step('serverSideEmit with ack', () => A.serverSideEmitWithAck('sse-ack', 2));
    await step('serverSideEmit with binary argument', () => A.serverSideEmit('sse', Buffer.from([5, 6])));
    await step('serverSideEmit with ack, binary answer', () => A.serverSideEmitWithAck('sse-bin'));
    await step('serverSideEmit with ack, undefined answer', () => A.serverSideEmitWithAck('sse-undefined'));
    await step('disconnectSockets(false) in kick1', () => A.in('kick1').disconnectSockets(false));
    await step('disconnectSockets(true) in kick2', () => A.in('kick2').disconnectSockets(true));
    // A socket whose data holds a Buffer: the FETCH_SOCKETS_RESPONSE goes as msgpack.
    await connect('binroom', 'ub');
    await sleep(100);
    await step('fetchSockets in binroom (binary socket data)', () => A.in('binroom').fetchSockets());

    const adapter = A.of('/').adapter;
    for (const [type, name] of [[1, 'INITIAL_HEARTBEAT'], [2, 'HEARTBEAT'], [13, 'ADAPTER_CLOSE']]) {
      const message = { type };
      message.uid = adapter.uid;
      message.nsp = adapter.nsp.name;
      const bytes = Buffer.from(adapter.encode(message));
      out.push({
        description: `${name} (constructed as ClusterAdapterWithHeartbeat builds it)`, from: 'A',
        channel: adapter.channel, encoding: 'json', hex: bytes.toString('hex'), text: bytes.toString(),
        constructed: true,
      });
    }
    process.stdout.write(JSON.stringify(out, null, 1) + '\n');
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
