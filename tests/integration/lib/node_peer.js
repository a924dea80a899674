'use strict';
/*
 * A stock Node member of a mixed fleet, in a child process of its own, driven over IPC by the
 * fleet tests (fleet_*.test.js). It exists so that the tests can ask "what does a real Socket.IO 4.8
 * server with @socket.io/redis-adapter 8.3 (classic pub/sub), or a real @socket.io/redis-emitter 5,
 * see and get from chatd?" and assert on the exact answer and on how long it took.
 *
 * Modes (the same file is the child: `node node_peer.js --mode M --redis URL [--port P]`)
 *   peer     an http server on 127.0.0.1:P with socket.io (both transports), the Redis adapter
 *            (requestsTimeout 5000, the default) on node-redis 4, and the seed's chat gateway, the
 *            fleet hooks and the adapter hardening of tests/reference/seed-server.js, so clients
 *            connect to it as to any other server of the fleet;
 *   emitter  no server: a @socket.io/redis-emitter on one node-redis client.
 *   sharded  as peer, but on Redis Cluster with the sharded adapter (createShardedAdapter,
 *            subscriptionMode "dynamic") on node-redis 4's createCluster; --redis is a
 *            comma-separated list of seed URLs. allRooms() does not exist there.
 *
 * Parent side
 *   startPeer({redisUrl, port, mode = 'peer', readyTimeout}) -> Promise<Peer>
 *   Peer: {mode, pid, port, url, uid (the adapter's uid; "emitter" for the emitter), logs,
 *     call(op, args, {timeout}) -> Promise<{result, elapsedMs}> (rejects with the operation's
 *       error; err.elapsedMs and err.responses (what a timed-out request had gathered) attached),
 *     freeze() / thaw() (SIGSTOP / SIGCONT: subscribed to Redis but answering nothing),
 *     stop() (SIGTERM, then SIGKILL; throws if the peer had exited on its own), logTail(n)}
 *   Hand it to scope(t).track(peer) so that it is stopped at the end of the test.
 *
 * Operations (args: one object; `rooms` and `except` are arrays and select sockets as
 * io.in(rooms).except(except) does; elapsedMs is measured in the child around the operation)
 *   peer:    serverCount, allRooms -> [room], fetchSockets {rooms, except} -> [{id, handshake,
 *            rooms, data}], socketsJoin / socketsLeave {rooms, except, target}, disconnectSockets
 *            {rooms, except, close}, emit {rooms, except, event, args}, emitWithAck {rooms, except,
 *            event, args, timeout} -> {error (message or null), responses}, serverSideEmit {event,
 *            args}, serverSideEmitWithAck {event, args} -> [response], serverSideEmits -> the
 *            server-side emits this peer received [{event, args}]
 *   emitter: emit, socketsJoin, socketsLeave, disconnectSockets, serverSideEmit (as above)
 * Buffers may appear anywhere in args and results (IPC with the advanced serialization).
 */

const path = require('node:path');
const { performance } = require('node:perf_hooks');

// Structured clone turns a Buffer into a plain Uint8Array; socket.io and notepack treat those
// differently (msgpack ext 0 instead of bin), so every byte view is made a Buffer again.
function revive(v) {
  if (Buffer.isBuffer(v)) return v;
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Parent side

async function startPeer({ redisUrl, port, mode = 'peer', readyTimeout = 10000 } = {}) {
  const { freePort, spawnLogged, withTimeout } = require('./harness');
  const serves = mode === 'peer' || mode === 'sharded';
  if (serves) port = port || (await freePort());
  const args = [__filename, '--mode', mode, '--redis', redisUrl, ...(serves ? ['--port', String(port)] : [])];
  const proc = spawnLogged(`node-peer(${mode})`, process.execPath, args, { ipc: true });
  const pending = new Map();
  let nextId = 1;
  let stopping = false;
  let ready;
  const readyPromise = new Promise((resolve) => {
    ready = resolve;
  });
  proc.child.on('message', (msg) => {
    if (msg.type === 'ready') {
      ready(msg);
      return;
    }
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) {
      p.resolve({ result: msg.result, elapsedMs: msg.elapsedMs });
    } else {
      const err = new Error(`node peer ${p.op}: ${msg.error}`);
      err.elapsedMs = msg.elapsedMs;
      err.responses = msg.responses;
      p.reject(err);
    }
  });
  proc.whenExited().then((ex) => {
    for (const p of pending.values()) p.reject(new Error(`node peer exited (${JSON.stringify(ex)}) during ${p.op}; log:\n${proc.logTail(20)}`));
    pending.clear();
  });

  const hello = await withTimeout(Promise.race([readyPromise, proc.whenExited().then((ex) => {
    throw new Error(`node peer exited during start-up (${JSON.stringify(ex)}); log:\n${proc.logTail(30)}`);
  })]), readyTimeout, () => `node peer (${mode}) ready; log:\n${proc.logTail(30)}`);

  return {
    mode,
    port,
    url: serves ? `http://127.0.0.1:${port}` : null,
    uid: hello.uid,
    logs: proc.logs,
    get pid() {
      return proc.child.pid;
    },
    logTail: (n) => proc.logTail(n),
    call(op, callArgs = {}, { timeout = 15000 } = {}) {
      if (proc.exited) return Promise.reject(new Error(`node peer has exited; log:\n${proc.logTail(20)}`));
      const id = nextId++;
      const p = new Promise((resolve, reject) => pending.set(id, { op, resolve, reject }));
      proc.child.send({ id, op, args: callArgs });
      return withTimeout(p, timeout, `node peer ${op} to answer`).finally(() => pending.delete(id));
    },
    freeze() {
      process.kill(proc.child.pid, 'SIGSTOP');
    },
    thaw() {
      process.kill(proc.child.pid, 'SIGCONT');
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      const before = proc.exited;
      try {
        process.kill(proc.child.pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await proc.stop({ timeout: 3000 });
      if (before) throw new Error(`node peer (${mode}, pid ${proc.child.pid}) exited on its own (${JSON.stringify(before)}); log:\n${proc.logTail(30)}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Child side

function parseChildArgs(argv) {
  const opts = { mode: 'peer', redis: null, port: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--mode') opts.mode = value;
    else if (flag === '--redis') opts.redis = value;
    else if (flag === '--port') opts.port = Number(value);
    else throw new Error(`unknown option ${flag}`);
  }
  return opts;
}

function log(...parts) {
  process.stderr.write(`${new Date().toISOString()} [node-peer ${process.pid}] ${parts.join(' ')}\n`);
}

// io.in(rooms).except(except) on a server or an emitter; no rooms = everyone.
function select(target, { rooms, except } = {}) {
  let op = target;
  if (rooms && rooms.length) op = op.in(rooms);
  if (except && except.length) op = op.except(except);
  return op;
}

const plainSocket = (s) => ({ id: s.id, handshake: { ...s.handshake }, rooms: [...s.rooms], data: s.data });

function peerOps(io) {
  const adapter = io.of('/').adapter;
  const received = [];
  return {
    ops: {
      serverCount: () => adapter.serverCount(),
      allRooms: async () => [...(await adapter.allRooms())],
      fetchSockets: async (a) => (await select(io, a).fetchSockets()).map(plainSocket),
      socketsJoin: (a) => select(io, a).socketsJoin(a.target),
      socketsLeave: (a) => select(io, a).socketsLeave(a.target),
      disconnectSockets: (a) => select(io, a).disconnectSockets(Boolean(a.close)),
      emit: (a) => select(io, a).emit(a.event, ...revive(a.args || [])),
      emitWithAck: (a) => new Promise((resolve) => {
        select(io.timeout(a.timeout), a).emit(a.event, ...revive(a.args || []), (err, responses) => {
          resolve({ error: err ? err.message : null, responses });
        });
      }),
      serverSideEmit: (a) => io.serverSideEmit(a.event, ...revive(a.args || [])),
      serverSideEmitWithAck: (a) => io.serverSideEmitWithAck(a.event, ...revive(a.args || [])),
      serverSideEmits: () => received,
    },
    received,
  };
}

function emitterOps(emitter) {
  return {
    emit: (a) => select(emitter, a).emit(a.event, ...revive(a.args || [])),
    socketsJoin: (a) => select(emitter, a).socketsJoin(a.target),
    socketsLeave: (a) => select(emitter, a).socketsLeave(a.target),
    disconnectSockets: (a) => select(emitter, a).disconnectSockets(Boolean(a.close)),
    serverSideEmit: (a) => emitter.serverSideEmit(a.event, ...revive(a.args || [])),
  };
}

async function startPeerServer(opts) {
  const http = require('node:http');
  const { Server } = require('socket.io');
  const { createAdapter, createShardedAdapter } = require('@socket.io/redis-adapter');
  const { createClient, createCluster } = require('redis');
  const { seedGateway, fleetHooks, hardenAdapter } = require(path.join(__dirname, '..', '..', 'reference', 'seed-server.js'));

  const sharded = opts.mode === 'sharded';
  const pubClient = sharded
    ? createCluster({ rootNodes: opts.redis.split(',').map((url) => ({ url })) })
    : createClient({ url: opts.redis });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) c.on('error', (e) => log(`redis: ${e.message}`));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'Content-Type': 'text/plain' });
    res.end(req.url === '/healthz' ? 'ok\n' : 'not found\n');
  });
  const io = new Server(httpServer, { transports: ['polling', 'websocket'] });
  if (sharded) {
    io.adapter(createShardedAdapter(pubClient, subClient));
  } else {
    hardenAdapter(); // a stock adapter dies of the hostile-input test's garbage (see seed-server.js)
    io.adapter(createAdapter(pubClient, subClient));
  }
  seedGateway(io);
  const { ops, received } = peerOps(io);
  fleetHooks(io, { onServerSideEmit: ([event, ...args]) => received.push({ event, args: args.filter((x) => typeof x !== 'function') }) });
  await new Promise((resolve) => httpServer.listen(opts.port, '127.0.0.1', resolve));
  log(`peer listening on 127.0.0.1:${opts.port} (redis ${opts.redis}${sharded ? ', sharded' : ''}), adapter uid ${io.of('/').adapter.uid}`);
  const close = () => {
    io.close();
    Promise.allSettled([pubClient.quit(), subClient.quit()]).finally(() => process.exit(0));
  };
  return { ops, uid: io.of('/').adapter.uid, close };
}

async function startEmitter(opts) {
  const { Emitter } = require('@socket.io/redis-emitter');
  const { createClient } = require('redis');
  const client = createClient({ url: opts.redis });
  client.on('error', (e) => log(`redis: ${e.message}`));
  await client.connect();
  log(`emitter connected (redis ${opts.redis})`);
  const close = () => client.quit().finally(() => process.exit(0));
  return { ops: emitterOps(new Emitter(client)), uid: 'emitter', close };
}

async function runChild() {
  const opts = parseChildArgs(process.argv.slice(2));
  // A hostile message the adapter cannot take throws inside its async request handler; Node would
  // end the process on the rejection. The peer logs it and goes on, so that a test can tell "the
  // peer shrugged" from "the peer died" (its log shows which message it choked on).
  process.on('unhandledRejection', (e) => log(`unhandled rejection: ${e && e.stack}`));
  const node = opts.mode === 'emitter' ? await startEmitter(opts) : await startPeerServer(opts);
  process.on('message', async ({ id, op, args }) => {
    const fn = node.ops[op];
    const t0 = performance.now();
    try {
      if (!fn) throw new Error(`unknown operation ${op} (mode ${opts.mode})`);
      const result = await fn(args || {});
      process.send({ id, ok: true, result: result === undefined ? null : result, elapsedMs: performance.now() - t0 });
    } catch (e) {
      process.send({ id, ok: false, error: e.message, responses: e.responses, elapsedMs: performance.now() - t0 });
    }
  });
  process.on('SIGTERM', node.close);
  process.on('disconnect', node.close); // the test process went away
  process.send({ type: 'ready', uid: node.uid });
}

if (require.main === module) {
  runChild().catch((e) => {
    log(`fatal: ${e.stack || e.message}`);
    process.exit(1);
  });
} else {
  module.exports = { startPeer, revive };
}
