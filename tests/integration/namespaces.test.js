'use strict';
// Namespaces from the config, each served by its application, on one Engine.IO session: a real
// socket.io-client Manager multiplexes "/" (chat, the seed's gateway) and "/echo" (echo: `auth`
// on connect, `<name>-back`, acks with the arguments, binary both ways) over one connection, on
// both transports; the DISCONNECT of one namespace keeps the others; an unknown namespace is
// refused; auth and rate limits are per namespace.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Manager } = require('socket.io-client');
const { scope, collect, settle, isReference, expectConnectError } = require('./lib/harness');
const { sign, now } = require('./lib/jwt');

const TIMEOUT = { timeout: 60_000 };
const SKIP = { skip: isReference && 'chatd namespaces config' };

const NAMESPACES = { '/': { app: 'chat' }, '/echo': { app: 'echo' }, '/custom': { app: 'echo' } };

function connected(socket, timeout = 5000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${socket.nsp} did not connect`)), timeout);
    socket.once('connect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('connect_error', (err) => { clearTimeout(timer); reject(err); });
  });
}

// One Manager (one Engine.IO session) with a socket on each of `nsps`.
async function multiplexed(s, url, nsps, { transports = ['websocket'], query = {}, auth = {} } = {}) {
  const m = new Manager(url, { transports, reconnection: false, query, timeout: 5000 });
  s.defer(() => m.engine && m.engine.close());
  const sockets = {};
  for (const nsp of nsps) sockets[nsp] = m.socket(nsp, { auth: auth[nsp] || {} });
  for (const nsp of nsps) sockets[nsp].connect();
  for (const nsp of nsps) await connected(sockets[nsp]);
  return { m, sockets };
}

function once(socket, event, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' on ${socket.nsp}`)), timeout);
    socket.once(event, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

for (const transports of [['websocket'], ['polling']]) {
  test(`one ${transports[0]} session carries "/" (chat) and "/echo" (echo) side by side`, { ...TIMEOUT, ...SKIP }, async (t) => {
    const s = scope(t);
    const redis = await s.redis();
    const srv = await s.server({ workers: 1, redisUrl: redis.url, config: { namespaces: NAMESPACES } });
    const peer = await s.client(srv.url, { channel: 'lobby', userId: 'peer' });
    const auth = { '/echo': { token: 'abc', n: 1 } };
    const autharg = (async () => {
      const m = new Manager(srv.url, { transports, reconnection: false, query: { channel: 'lobby', userId: 'me' } });
      s.defer(() => m.engine && m.engine.close());
      const root = m.socket('/');
      const echo = m.socket('/echo', { auth: auth['/echo'] });
      const gotAuth = once(echo, 'auth');
      root.connect();
      echo.connect();
      await connected(root);
      await connected(echo);
      return { m, root, echo, authArgs: await gotAuth };
    })();
    const { m, root, echo, authArgs } = await autharg;
    assert.deepEqual(authArgs, [{ token: 'abc', n: 1 }], 'echo emits auth with the CONNECT payload');
    assert.notEqual(root.id, echo.id, 'a socket id per namespace');
    const sid = m.engine.id;

    // echo: <name>-back with every argument, an ack with the arguments, binary both ways.
    const back = once(echo, 'message-back');
    echo.emit('message', 1, '2', { 3: [4] });
    assert.deepEqual(await back, [1, '2', { 3: [4] }]);
    assert.deepEqual(await echo.timeout(3000).emitWithAck('message-with-ack', 1, '2', { 3: [4] }), 1);
    const acked = await new Promise((resolve) => echo.emit('message-with-ack', 'a', { b: 1 }, (...args) => resolve(args)));
    assert.deepEqual(acked, ['a', { b: 1 }]);
    const bin = once(echo, 'message-back');
    echo.emit('message', Buffer.from([1, 2, 3]), { deep: Buffer.from('xyz') });
    const [b1, b2] = await bin;
    assert.deepEqual([...b1], [1, 2, 3]);
    assert.equal(Buffer.from(b2.deep).toString(), 'xyz');
    const binAck = await new Promise((resolve) => echo.emit('message-with-ack', Buffer.from([9]), (...args) => resolve(args)));
    assert.deepEqual([...binAck[0]], [9]);
    // The other direction: the server asks the client for an ack and emits what it answered.
    echo.on('emit-with-ack', (...args) => {
      const cb = args.pop();
      cb(...args, 'answered', Buffer.from([7]));
    });
    const backAck = once(echo, 'emit-with-ack-back');
    echo.emit('emit-with-ack', 1, { two: 2 });
    const answered = await backAck;
    assert.deepEqual(answered.slice(0, 3), [1, { two: 2 }, 'answered']);
    assert.deepEqual([...answered[3]], [7], 'the client ack\'s Buffer comes back as an attachment');

    // chat on "/" beside it, and nothing of echo reaches the room.
    const peerChat = collect(peer, 'chat');
    const peerAll = [];
    peer.onAny((e) => peerAll.push(e));
    root.emit('message', { userId: 'me', text: 'hi' });
    await peerChat.waitCount(1);
    assert.equal(peerChat.items[0].text, 'hi');
    await settle();
    assert.ok(!peerAll.includes('message-back'), 'echo answers its sender only');

    // The client's DISCONNECT of /echo keeps "/" on the same Engine.IO session.
    echo.disconnect();
    await settle();
    assert.equal(m.engine.id, sid, 'the same Engine.IO session');
    assert.equal(m.engine.readyState, 'open');
    root.emit('message', { userId: 'me', text: 'still here' });
    await peerChat.waitCount(2);
    assert.equal(peerChat.items[1].text, 'still here');
    // ... and the namespace may be joined again on it.
    echo.connect();
    await connected(echo);
    const again = once(echo, 'message-back');
    echo.emit('message', 'again');
    assert.deepEqual(await again, ['again']);
    assert.equal(m.engine.id, sid);
    // Leaving "/" keeps /echo.
    root.disconnect();
    await settle();
    const still = once(echo, 'message-back');
    echo.emit('message', 'alone');
    assert.deepEqual(await still, ['alone']);
    assert.equal(m.engine.id, sid);
  });
}

test('an unknown namespace gets CONNECT_ERROR "Invalid namespace"; the session and its other namespaces stay', { ...TIMEOUT, ...SKIP }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const srv = await s.server({ workers: 1, redisUrl: redis.url, config: { namespaces: NAMESPACES } });
  const err = await expectConnectError(srv.url, { namespace: '/nope', channel: 'x', userId: 'u' });
  assert.equal(err.message, 'Invalid namespace');
  const { m, sockets } = await multiplexed(s, srv.url, ['/echo']);
  const bad = m.socket('/nope');
  const refused = once(bad, 'connect_error');
  bad.connect();
  const [e] = await refused;
  assert.equal(e.message, 'Invalid namespace');
  const back = once(sockets['/echo'], 'message-back');
  sockets['/echo'].emit('message', 1);
  assert.deepEqual(await back, [1]);
});

test('a config without "/" does not serve it; echo needs no channel', { ...TIMEOUT, ...SKIP }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const srv = await s.server({ workers: 1, redisUrl: redis.url, config: { namespaces: { '/echo': { app: 'echo' } } } });
  const err = await expectConnectError(srv.url, { channel: 'x', userId: 'u' });
  assert.equal(err.message, 'Invalid namespace');
  const e = await s.client(srv.url, { namespace: '/echo' });
  const back = once(e, 'message-back');
  e.emit('message', 'x');
  assert.deepEqual(await back, ['x']);
});

test('rate limits per namespace: /echo over its own limit is told on /echo, "/" is not limited by it', { ...TIMEOUT, ...SKIP }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const srv = await s.server({
    workers: 1,
    redisUrl: redis.url,
    config: { namespaces: { '/': { app: 'chat' }, '/echo': { app: 'echo', message_rate: 1, message_burst: 3 } } },
  });
  const peer = await s.client(srv.url, { channel: 'r', userId: 'peer' });
  const { sockets } = await multiplexed(s, srv.url, ['/', '/echo'], { query: { channel: 'r', userId: 'me' } });
  const echoed = collect(sockets['/echo'], 'message-back');
  const errors = collect(sockets['/echo'], 'error');
  const rootErrors = collect(sockets['/'], 'error');
  for (let i = 0; i < 10; i++) sockets['/echo'].emit('message', i);
  await errors.waitCount(1);
  await settle();
  assert.equal(echoed.items.length, 3, 'the burst went through, the rest was dropped');
  assert.deepEqual(errors.items[0], { message: 'rate limited', limit: 1, burst: 3, action: 'drop' });
  const chats = collect(peer, 'chat');
  for (let i = 0; i < 10; i++) sockets['/'].emit('message', { userId: 'me', i });
  await chats.waitCount(10);
  assert.equal(rootErrors.items.length, 0, '"/" keeps the global limit (100/s, burst 300)');
});

test('auth per namespace: "/" needs a token, /echo with auth: off does not', { ...TIMEOUT, ...SKIP }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-ns-'));
  s.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
  const secret = 'namespace-secret-0123456789abcdef';
  fs.writeFileSync(path.join(dir, 'secret'), secret);
  const srv = await s.server({
    workers: 1,
    redisUrl: redis.url,
    config: {
      auth: { enabled: true, secret_file: path.join(dir, 'secret') },
      namespaces: { '/': { app: 'chat' }, '/echo': { app: 'echo', auth: false } },
    },
  });
  const err = await expectConnectError(srv.url, { channel: 'r', userId: 'u' });
  assert.equal(err.message, 'unauthorized');
  const e = await s.client(srv.url, { namespace: '/echo' });
  const back = once(e, 'message-back');
  e.emit('message', 'open');
  assert.deepEqual(await back, ['open']);
  const token = sign({ sub: 'u', exp: now() + 600 }, { key: secret });
  const { sockets } = await multiplexed(s, srv.url, ['/', '/echo'], {
    query: { channel: 'r', userId: 'u' },
    auth: { '/': { token } },
  });
  assert.ok(sockets['/'].connected && sockets['/echo'].connected);
});
