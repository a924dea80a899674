#!/usr/bin/env node
'use strict';
/*
 * The reference server: the seed's NestJS chat gateway (chat.gateway.ts + redis.adapter.ts, see
 * shared/seed/000_87ff5e5ff208e9f5.txt) reproduced in plain Socket.IO 4, without Nest. The
 * integration tests run against it (CHATD_TARGET=reference) to prove that they check the seed's
 * behaviour, and it is the Node side of side-by-side comparisons with chatd.
 *
 * Behaviour, as in the seed:
 *   - on connection the socket joins room handshake.query.channel and the room's other members get
 *     `login` with socket.handshake.query;
 *   - `message` is sent on as `chat` with the same payload to the room's other members; like
 *     Nest's IoAdapter, several arguments travel as one array, and an ack callback is called
 *     (Nest would not call it, since the seed's handler returns nothing; chatd acknowledges, so the
 *     reference does too, with chatd's one argument {bus: <the publisher link took it>});
 *   - on disconnect the socket leaves its room;
 *   - rooms are shared through @socket.io/redis-adapter (the successor of the seed's
 *     socket.io-redis, same wire format) with node-redis 4 pub/sub clients.
 * Added for the tests (not in the seed): a middleware refusing a handshake without `channel`,
 * GET /healthz, GET /metrics (per-worker connection gauges and the server-side emit counter, as
 * chatd names them), 404 for other paths, --workers N (Node's cluster module: the seed's "first
 * option"), and the mixed-fleet contract chatd keeps too (tests/integration/fleet_*.test.js): every
 * server-side emit from another node (io.serverSideEmit, the Redis emitter) is counted in
 * chatd_adapter_server_side_emit_total, and one that asks for an acknowledgement is answered with
 * {event, args, pid} (pid: the answering worker process).
 *
 * Required as a module it runs nothing and exports the gateway (seedGateway, fleetHooks) so that
 * the tests' Node peer (tests/integration/lib/node_peer.js) serves the same chat.
 *
 * Usage: node seed-server.js [--port 8000] [--host 0.0.0.0] [--redis redis://127.0.0.1:6379]
 *          [--workers 1] [--ping-interval 25000] [--ping-timeout 20000] [--max-payload 1000000]
 *          [--transports websocket,polling]
 */

const cluster = require('node:cluster');
const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

function parseArgs(argv) {
  const opts = {
    port: 8000,
    host: '0.0.0.0',
    redis: 'redis://127.0.0.1:6379',
    workers: 1,
    pingInterval: 25000,
    pingTimeout: 20000,
    maxPayload: 1e6,
    transports: ['websocket', 'polling'],
  };
  const numeric = { '--port': 'port', '--workers': 'workers', '--ping-interval': 'pingInterval', '--ping-timeout': 'pingTimeout', '--max-payload': 'maxPayload' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--help' || flag === '-h') {
      process.stdout.write('usage: seed-server.js [--port P] [--host H] [--redis URL] [--workers N] ' +
        '[--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES] [--transports a,b]\n');
      process.exit(0);
    }
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (numeric[flag]) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: not a number: ${value}`);
      opts[numeric[flag]] = n;
    } else if (flag === '--host') {
      opts.host = value;
    } else if (flag === '--redis') {
      opts.redis = value;
    } else if (flag === '--transports') {
      opts.transports = value.split(',').filter(Boolean);
    } else {
      throw new Error(`unknown option ${flag}`);
    }
    i++;
  }
  return opts;
}

function log(...parts) {
  const who = cluster.isPrimary ? 'primary' : `worker ${process.env.SEED_SLOT}`;
  process.stderr.write(`${new Date().toISOString()} [${who} ${process.pid}] ${parts.join(' ')}\n`);
}

// --- the seed's gateway, shared with the tests' Node peer -----------------------------------------

// Whether the adapter's publisher takes a PUBLISH now (@socket.io/redis-adapter keeps it as
// pubClient; with disableOfflineQueue node-redis refuses commands unless it is ready).
function busAccepts(io) {
  const pub = io.of('/').adapter.pubClient;
  return Boolean(pub && pub.isReady);
}

// chat.gateway.ts on `io`, plus the handshake check; onConnections(n) after every change;
// busAccepts(io) is what the message ack reports as `bus` (another adapter's publisher check).
function seedGateway(io, { onConnections = () => {}, busAccepts: busUp = busAccepts } = {}) {
  let connections = 0;
  io.use((socket, next) => {
    const channel = socket.handshake.query.channel;
    if (typeof channel !== 'string' || channel === '') {
      next(new Error('missing channel: connect with io(url, {query: {channel: "<room>"}})'));
      return;
    }
    next();
  });

  io.on('connection', (socket) => {
    const channel = socket.handshake.query.channel;
    onConnections(++connections);
    socket.join(channel);
    socket.to(channel).emit('login', socket.handshake.query);

    socket.on('message', (...args) => {
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
      const payload = args.length === 1 ? args[0] : args; // Nest's IoAdapter.mapPayload
      socket.to(channel).emit('chat', payload);
      // As chatd: the ack says whether the broadcast reached the Redis publisher link.
      if (ack) ack({ bus: busUp(io) });
    });

    socket.on('disconnect', () => {
      socket.leave(channel);
      onConnections(--connections);
    });
  });
}

// The mixed-fleet contract for server-side emits from other nodes, whatever the event: count
// each (onServerSideEmit), and answer one that asks for an ack with {event, args, pid}. Socket.IO
// only offers io.on(<event name>) for these, so the namespace's entry point for them is wrapped
// (socket.io 4.8 Namespace._onServerSideEmit, called by the adapter with [event, ...args, ack?]).
function fleetHooks(io, { onServerSideEmit = () => {} } = {}) {
  const nsp = io.of('/');
  const deliver = nsp._onServerSideEmit.bind(nsp);
  nsp._onServerSideEmit = (packet) => {
    onServerSideEmit(packet);
    const [event, ...args] = packet;
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    if (ack) ack({ event, args, pid: process.pid });
    deliver(packet);
  };
}

// The stock adapter (8.3) decodes a broadcast outside any try, inside node-redis's message
// listener: one undecodable PUBLISH on socket.io#/# (tests/integration/fleet_hostile.test.js)
// throws there and ends the process. The reference drops such a message, as chatd must, so that
// the hostile-input test can be run against it; everything the adapter can decode is untouched.
function hardenAdapter() {
  const { RedisAdapter } = require('@socket.io/redis-adapter');
  const onmessage = RedisAdapter.prototype.onmessage;
  if (onmessage.hardened) return;
  RedisAdapter.prototype.onmessage = function hardenedOnmessage(...args) {
    try {
      return onmessage.apply(this, args);
    } catch (e) {
      log(`dropped an adapter message it could not take: ${e.message}`);
      return undefined;
    }
  };
  RedisAdapter.prototype.onmessage.hardened = true;
}

// --- the primary of a --workers N cluster: fork, relay connection counts, report readiness ------

function runPrimary(opts) {
  const table = new Map(); // slot -> {connections, serverSideEmits}
  let listening = 0;
  const fork = (slot) => {
    const w = cluster.fork({ SEED_SLOT: String(slot) });
    table.set(slot, { connections: 0, serverSideEmits: 0 });
    w.on('message', (msg) => {
      if (msg && msg.type === 'stats') {
        table.set(slot, msg.stats);
      } else if (msg && msg.type === 'listening') {
        listening++;
        if (listening === opts.workers) log(`all ${opts.workers} workers listening on ${opts.host}:${opts.port}`);
      }
      // every worker answers /metrics for the whole server, so each gets the whole table
      const snapshot = Object.fromEntries(table);
      for (const other of Object.values(cluster.workers)) other.send({ type: 'table', table: snapshot });
    });
    w.on('exit', (code, signal) => {
      log(`worker ${slot} exited (code ${code}, signal ${signal})`);
      if (!stopping) process.exitCode = 1;
    });
  };
  let stopping = false;
  for (let i = 0; i < opts.workers; i++) fork(i);
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    setTimeout(() => process.exit(0), 3000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// --- one server process (the whole server when --workers 1) ------------------------------------

async function runServer(opts) {
  const slot = process.env.SEED_SLOT || '0';
  let connections = 0;
  let serverSideEmits = 0;
  let table = {};
  const report = () => {
    const stats = { connections, serverSideEmits };
    table = { ...table, [slot]: stats };
    if (process.send) process.send({ type: 'stats', stats });
  };
  report();
  process.on('message', (msg) => {
    if (msg && msg.type === 'table') table = msg.table;
  });

  // No offline queue: node-redis 4 replays a queue built up while Redis was away out of step with
  // its pub/sub state and then crashes on a reply it did not expect. Without the queue, a PUBLISH
  // during an outage is lost (as in chatd) and subscriptions are renewed on reconnect.
  const pubClient = createClient({ url: opts.redis, disableOfflineQueue: true });
  const subClient = pubClient.duplicate({ disableOfflineQueue: false });
  let redisUp = 0;
  for (const [name, c] of [['pub', pubClient], ['sub', subClient]]) {
    c.on('error', (e) => log(`redis ${name}: ${e.message}`));
    c.on('ready', () => {
      redisUp = 1;
      log(`redis ${name}: ready`);
    });
    c.on('end', () => {
      redisUp = 0;
    });
    c.on('reconnecting', () => {
      redisUp = 0;
    });
  }
  // Like the seed, start even if Redis is not there yet: node-redis keeps retrying.
  await Promise.race([Promise.all([pubClient.connect(), subClient.connect()]), new Promise((r) => setTimeout(r, 3000))])
    .catch((e) => log(`redis connect: ${e.message}`));

  const httpServer = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', server: 'reference', redis: redisUp ? 'up' : 'down' }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      // Only Socket.IO connections are counted, so both gauges are the same figure here.
      const lines = [];
      for (const [name, type, key] of [['chatd_connections', 'gauge', 'connections'], ['chatd_sessions', 'gauge', 'connections'],
        ['chatd_adapter_server_side_emit_total', 'counter', 'serverSideEmits']]) {
        lines.push(`# TYPE ${name} ${type}`);
        for (const [s, n] of Object.entries(table)) lines.push(`${name}{worker="${s}"} ${n[key]}`);
      }
      lines.push('# TYPE chatd_redis_up gauge', `chatd_redis_up{worker="${slot}"} ${redisUp}`);
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(`${lines.join('\n')}\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  });

  const io = new Server(httpServer, {
    transports: opts.transports,
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxPayload,
  });
  hardenAdapter();
  io.adapter(createAdapter(pubClient, subClient));

  seedGateway(io, { onConnections: (n) => { connections = n; report(); } });
  fleetHooks(io, { onServerSideEmit: () => { serverSideEmits++; report(); } });

  httpServer.listen(opts.port, opts.host, () => {
    log(`seed-server listening on ${opts.host}:${opts.port} (redis ${opts.redis})`);
    if (process.send) process.send({ type: 'listening' });
  });

  const stop = () => {
    io.close();
    Promise.allSettled([pubClient.quit(), subClient.quit()]).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function main() {
  // The stock stack (socket.io 4 + @socket.io/redis-adapter 8 + node-redis 4) does not catch the
  // promise of the adapter's PUBLISH: when Redis dies mid-write, the rejection (EPIPE) kills the
  // process under Node >= 15. The seed's deployment would have died with its Redis; the reference
  // logs and goes on, so that the tests can check what a chat server should do in an outage.
  process.on('unhandledRejection', (e) => log(`unhandled rejection (the stock stack would exit here): ${e && e.message}`));
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`seed-server: ${e.message}\n`);
    process.exit(2);
  }
  if (opts.workers > 1 && cluster.isPrimary) {
    runPrimary(opts);
  } else {
    runServer(opts).catch((e) => {
      log(`fatal: ${e.stack || e.message}`);
      process.exit(1);
    });
  }
}

if (require.main === module) {
  main();
} else {
  module.exports = { seedGateway, fleetHooks, hardenAdapter };
}
