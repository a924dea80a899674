'use strict';
// The seed's 8000/8001 setup: two server instances on two ports sharing one Redis. Members of a
// room on either instance see each other's logins and messages, exactly once, and nothing from
// other rooms.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, portAccepts, twoInstances } = require('./lib/harness');

const TIMEOUT = { timeout: 60_000 };

test('a login on one instance reaches the room on the other', TIMEOUT, async (t) => {
  const { s, s1, s2 } = await twoInstances(t);
  const a1 = await s.client(s1.url, { channel: 'r1', userId: 'a1' });
  const c1 = await s.client(s1.url, { channel: 'r2', userId: 'c1' });
  const a1Login = collect(a1, 'login');
  const c1Login = collect(c1, 'login');

  const a2 = await s.client(s2.url, { channel: 'r1', userId: 'a2' });
  const a2Login = collect(a2, 'login');
  const login = await a1Login.waitFor((q) => q.userId === 'a2', { label: 'from a2 (on the other instance)' });
  assert.deepEqual(login, { channel: 'r1', userId: 'a2', EIO: '4', transport: 'websocket' });

  await s.client(s1.url, { channel: 'r1', userId: 'b1' });
  const fromB1 = await a2Login.waitFor((q) => q.userId === 'b1', { label: 'from b1 (on the other instance)' });
  assert.deepEqual(fromB1, { channel: 'r1', userId: 'b1', EIO: '4', transport: 'websocket' });
  await settle();
  assert.deepEqual(a1Login.items.map((q) => q.userId), ['a2', 'b1'], 'a1: each login once');
  assert.deepEqual(a2Login.items.map((q) => q.userId), ['b1'], 'a2: each login once');
  assert.deepEqual(c1Login.items, [], 'another room gets no login');
});

test('messages cross between instances exactly once, in both directions, never to other rooms', TIMEOUT, async (t) => {
  const { s, s1, s2 } = await twoInstances(t);
  const members = {
    a1: await s.client(s1.url, { channel: 'r1', userId: 'a1' }),
    b1: await s.client(s1.url, { channel: 'r1', userId: 'b1' }),
    a2: await s.client(s2.url, { channel: 'r1', userId: 'a2' }),
    b2: await s.client(s2.url, { channel: 'r1', userId: 'b2' }),
  };
  const others = {
    c1: await s.client(s1.url, { channel: 'r2', userId: 'c1' }),
    c2: await s.client(s2.url, { channel: 'r2', userId: 'c2' }),
  };
  const chats = {};
  for (const [name, sock] of Object.entries({ ...members, ...others })) chats[name] = collect(sock, 'chat');

  // Every r1 member sends one message; every other r1 member must get each exactly once.
  for (const [name, sock] of Object.entries(members)) sock.emit('message', { userId: name, channel: 'r1', body: `from ${name}` });
  // r2 traffic between the instances at the same time
  others.c1.emit('message', { userId: 'c1', channel: 'r2', body: 'r2 from c1' });
  others.c2.emit('message', { userId: 'c2', channel: 'r2', body: 'r2 from c2' });

  for (const name of Object.keys(members)) await chats[name].waitCount(3, { label: name });
  await chats.c1.waitCount(1, { label: 'c1' });
  await chats.c2.waitCount(1, { label: 'c2' });
  await settle();
  for (const name of Object.keys(members)) {
    const senders = chats[name].items.map((p) => p.userId).sort();
    const expected = Object.keys(members).filter((n) => n !== name).sort();
    assert.deepEqual(senders, expected, `${name} gets each other member's message exactly once`);
    for (const p of chats[name].items) assert.deepEqual(p, { userId: p.userId, channel: 'r1', body: `from ${p.userId}` });
  }
  assert.deepEqual(chats.c1.items, [{ userId: 'c2', channel: 'r2', body: 'r2 from c2' }]);
  assert.deepEqual(chats.c2.items, [{ userId: 'c1', channel: 'r2', body: 'r2 from c1' }]);
});

test('a member that just connected gets cross-instance messages sent right after its connect', TIMEOUT, async (t) => {
  // A Node instance (PSUBSCRIBE on start) has no window in which a connected member can miss a
  // message from another instance; a server that subscribes per room must not open one either
  // (it has to be subscribed before it tells the client it is connected).
  const { s, s1, s2 } = await twoInstances(t);
  for (let i = 0; i < 5; i++) {
    const room = `fresh-${i}`;
    const sender = await s.client(s1.url, { channel: room, userId: `sender${i}` });
    const joiner = await s.client(s2.url, { channel: room, userId: `joiner${i}` });
    const got = collect(joiner, 'chat');
    sender.emit('message', { userId: `sender${i}`, channel: room, body: 'first' });
    await got.waitCount(1, { label: `${room}: the message sent right after the joiner connected on the other instance` });
  }
});

test('the seed flow with the seed\'s ports 8000/8001 when they are free', TIMEOUT, async (t) => {
  if ((await portAccepts(8000)) || (await portAccepts(8001))) {
    t.skip('port 8000 or 8001 is in use on this machine');
    return;
  }
  const s = scope(t);
  const redis = await s.redis();
  const s1 = await s.server({ workers: 1, port: 8000, redisUrl: redis.url });
  const s2 = await s.server({ workers: 1, port: 8001, redisUrl: redis.url });
  const u1 = await s.client(s1.url, { channel: 'seed', userId: 'user1' });
  const u1Login = collect(u1, 'login');
  const u2 = await s.client(s2.url, { channel: 'seed', userId: 'user2' });
  await u1Login.waitCount(1);
  const c1 = collect(u1, 'chat');
  const c2 = collect(u2, 'chat');
  u1.emit('message', { userId: 'user1', channel: 'seed', body: '안녕하세요' });
  u2.emit('message', { userId: 'user2', channel: 'seed', body: 'hi' });
  await c1.waitCount(1);
  await c2.waitCount(1);
  assert.deepEqual(c2.items, [{ userId: 'user1', channel: 'seed', body: '안녕하세요' }]);
  assert.deepEqual(c1.items, [{ userId: 'user2', channel: 'seed', body: 'hi' }]);
});

test('a member that just connected on one instance gets a message sent at once from the other, every time', TIMEOUT, async (t) => {
  // The joiner's room is new on its instance each time: its Redis subscription is made by this
  // very connection, and "connect" must not be seen before it is in place.
  const { s, s1, s2 } = await twoInstances(t);
  const rounds = 30;
  let delivered = 0;
  for (let i = 0; i < rounds; ++i) {
    const room = `fresh-${i}`;
    const sender = await s.client(s1.url, { channel: room, userId: 'sender' });
    const joiner = await s.client(s2.url, { channel: room, userId: 'joiner' });
    const got = collect(joiner, 'chat');
    sender.emit('message', { userId: 'sender', channel: room, body: `round ${i}` });
    await got.waitCount(1, { timeout: 5000, label: `round ${i}: the message sent right after the join` });
    assert.equal(got.items[0].body, `round ${i}`);
    delivered += 1;
    sender.close();
    joiner.close();
  }
  assert.equal(delivered, rounds);
});
