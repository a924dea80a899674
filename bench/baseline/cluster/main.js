'use strict';
// Node's cluster mode, the first way to scale the seed's chat server that the seed describes
// (seed/000_87ff5e5ff208e9f5.txt, "How?" first item): the primary forks N workers that share one
// port, each a socket.io 4.8 server whose rooms span the workers (and any other server on the same
// Redis) through @socket.io/redis-adapter on redis@4 pub/sub clients. Same gateway as the seed:
//   connect    -> join room `channel`, emit `login` (the handshake query) to the room's others
//   `message`  -> emit `chat` with the same payload to the room's others
//   disconnect -> leave the room
//
//   node bench/baseline/cluster/main.js --workers N --port P --redis URL [--host 127.0.0.1]
//
// Connections are spread by Node's default cluster scheduling (the primary accepts and hands each
// connection to a worker in turn). WebSocket transport only: long-polling needs every request of a
// session to reach the same worker, which takes @socket.io/sticky on top of this; the load
// generator speaks WebSocket directly, so it is not needed here.
//
// When every worker listens the primary prints one line the compare script waits for:
//   cluster baseline listening on HOST:PORT workers=N pids=PRIMARY,W1,...,WN

const cluster = require('node:cluster');
const os = require('node:os');
const { parseArgs } = require('node:util');

const { values: opts } = parseArgs({
  options: {
    workers: { type: 'string', default: String(os.availableParallelism()) },
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});

if (cluster.isPrimary) {
  runPrimary();
} else {
  runWorker().catch((err) => {
    console.error(`cluster worker ${process.pid}: ${err.stack || err}`);
    process.exit(1);
  });
}

function runPrimary() {
  const count = Number(opts.workers);
  if (!Number.isInteger(count) || count < 1) {
    console.error(`cluster baseline: --workers: expected a positive integer, got '${opts.workers}'`);
    process.exit(2);
  }
  let stopping = false;
  let announced = false;
  const listening = new Set();

  const fork = () => {
    const worker = cluster.fork();
    worker.on('listening', () => {
      listening.add(worker.id);
      if (!announced && listening.size === count) {
        announced = true;
        const pids = [process.pid, ...Object.values(cluster.workers).map((w) => w.process.pid)];
        console.log(
          `cluster baseline listening on ${opts.host}:${opts.port} workers=${count} pids=${pids.join(',')}`,
        );
      }
    });
  };

  // A dead worker is replaced, as a cluster-mode deployment does; its clients reconnect.
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
      return;
    }
    console.error(`cluster baseline: worker ${worker.process.pid} exited (${signal || code}); forking another`);
    setTimeout(fork, 500);
  });

  const stop = () => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers);
    if (alive.length === 0) process.exit(0);
    for (const w of alive) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  for (let i = 0; i < count; i++) fork();
}

async function runWorker() {
  const http = require('node:http');
  const { Server } = require('socket.io');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const { createClient } = require('redis');

  const pubClient = createClient({ url: opts.redis });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) {
    c.on('error', (err) => console.error(`cluster worker ${process.pid}: redis: ${err.message}`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    transports: ['websocket'],
    adapter: createAdapter(pubClient, subClient),
  });

  io.on('connection', (socket) => {
    const query = socket.handshake.query;
    socket.join(query['channel']);
    socket.to(query['channel']).emit('login', query);

    socket.on('message', (payload) => {
      socket.to(query['channel']).emit('chat', payload);
    });

    socket.on('disconnect', () => {
      socket.leave(query['channel'].toString());
    });
  });

  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => {}); // the primary decides; a terminal's ^C reaches the whole group
  httpServer.listen(Number(opts.port), opts.host);
}
