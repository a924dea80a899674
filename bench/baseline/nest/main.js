'use strict';
// The seed's NestJS chat server (seed/000_87ff5e5ff208e9f5.txt: chat.gateway.ts, redis.adapter.ts,
// main.ts), reproduced so that chatd can be measured against the system it replaces. Plain
// JavaScript with the decorators applied by hand (Reflect.decorate, as tsc's output does), so no
// compiler is needed; behaviour is the seed's, line for line:
//   connect    -> join room `channel`, emit `login` (the handshake query) to the room's others
//   `message`  -> emit `chat` with the same payload to the room's others
//   disconnect -> leave the room
// The seed's socket.io-redis (and its redis@3 RedisClient) is replaced by its successor,
// @socket.io/redis-adapter 8 on redis@4 pub/sub clients: same channels, same msgpack messages.
//
//   node bench/baseline/nest/main.js --port P --redis URL [--host 127.0.0.1] [--log-connections]
//
// The seed logs every handshake query with console.log; that is a debugging line which would
// measure the terminal rather than the server, so it is off unless --log-connections is given.

require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { WebSocketGateway, SubscribeMessage } = require('@nestjs/websockets');
const { IoAdapter } = require('@nestjs/platform-socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { parseArgs } = require('node:util');

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '8000' },
    host: { type: 'string', default: '127.0.0.1' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    'log-connections': { type: 'boolean', default: false },
  },
});

// chat.gateway.ts
class ChatGateway {
  message(client, payload) {
    client.to(client.handshake.query['channel']).emit('chat', payload);
  }

  handleConnection(client, ...args) {
    client.join(client.handshake.query['channel']);
    if (opts['log-connections']) console.log(client.handshake.query);
    client.to(client.handshake.query['channel']).emit('login', client.handshake.query);
  }

  handleDisconnect(client) {
    const channel = client.handshake.query['channel'].toString();
    client.leave(channel);
  }
}
// tsc's emitDecoratorMetadata output for `message(client: Socket, payload: object)`.
Reflect.decorate(
  [
    SubscribeMessage('message'),
    Reflect.metadata('design:type', Function),
    Reflect.metadata('design:paramtypes', [Object, Object]),
    Reflect.metadata('design:returntype', void 0),
  ],
  ChatGateway.prototype,
  'message',
  Object.getOwnPropertyDescriptor(ChatGateway.prototype, 'message'),
);
const DecoratedChatGateway = Reflect.decorate([WebSocketGateway()], ChatGateway);

// app.module.ts
class AppModule {}
const DecoratedAppModule = Reflect.decorate(
  [Module({ providers: [DecoratedChatGateway] })],
  AppModule,
);

// redis.adapter.ts: redis@4 clients must be connected before the adapter is made.
class RedisIoAdapter extends IoAdapter {
  async connectToRedis(url) {
    const pubClient = createClient({ url });
    const subClient = pubClient.duplicate();
    for (const c of [pubClient, subClient]) {
      c.on('error', (err) => console.error(`nest baseline: redis: ${err.message}`));
    }
    await Promise.all([pubClient.connect(), subClient.connect()]);
    this.redisAdapter = createAdapter(pubClient, subClient);
  }

  createIOServer(port, options) {
    const server = super.createIOServer(port, options);
    server.adapter(this.redisAdapter);
    return server;
  }
}

// main.ts
async function bootstrap() {
  const app = await NestFactory.create(DecoratedAppModule, {
    cors: true,
    logger: ['error', 'warn'],
  });
  const adapter = new RedisIoAdapter(app);
  await adapter.connectToRedis(opts.redis);
  app.useWebSocketAdapter(adapter);
  await app.listen(Number(opts.port), opts.host);
  console.log(`nest baseline listening on ${opts.host}:${opts.port} pid=${process.pid}`);
}

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

bootstrap().catch((err) => {
  console.error(`nest baseline: ${err.stack || err}`);
  process.exit(1);
});
