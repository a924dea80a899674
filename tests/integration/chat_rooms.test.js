'use strict';
// chat beyond the seed (README, Events): `join` / `leave` switch or add rooms on a connected
// socket (login / logout to that room's others only, on any instance), a disconnect tells each of
// its rooms `logout`, a `message` reaches every room the socket is in (each member once), `who`
// lists a room's members on every node (chatd workers, another chatd, a Node peer), every object
// `chat` is stamped with a fleet-unique `id` and a `ts`, and bad room names are refused with an
// error, never a disconnect. chatd-only: the reference seed has none of these.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle, isReference, twoInstances } = require('./lib/harness');
const { startFleet, serverClients, peerClients } = require('./lib/fleet');
const { userIdOf } = require('./lib/fleet_checks');
const { startPeer } = require('./lib/node_peer');

const SKIP = isReference && 'join/leave/who and the stamp are chatd\'s; the reference seed has none';
const TIMEOUT = { timeout: 60_000, skip: SKIP };

// Clients by user id: { a: [server, channel], … } -> { a: socket, … }, connected in that order.
async function clients(s, spec) {
  const out = {};
  for (const [userId, [server, channel]] of Object.entries(spec)) out[userId] = await s.client(server.url, { channel, userId });
  return out;
}

const login = (userId, channel) => ({ channel, userId, EIO: '4', transport: 'websocket' });

test('join and leave: login and logout reach that room only, on both instances; the ack lists the rooms', TIMEOUT, async (t) => {
  const { s, s1, s2 } = await twoInstances(t);
  const { a, l1, l2, v1, v2 } = await clients(s, {
    a: [s1, 'lobby'], l1: [s1, 'lobby'], l2: [s2, 'lobby'], v1: [s1, 'vip'], v2: [s2, 'vip'],
  });
  await settle();
  const seen = {};
  for (const [name, sock] of Object.entries({ l1, l2, v1, v2 })) {
    seen[name] = { login: collect(sock, 'login'), logout: collect(sock, 'logout') };
  }

  assert.deepEqual(await a.emitWithAck('join', 'vip'), { room: 'vip', rooms: ['lobby', 'vip'] });
  await seen.v1.login.waitCount(1, { label: 'v1 (same instance)' });
  await seen.v2.login.waitCount(1, { label: 'v2 (other instance)' });
  assert.deepEqual(seen.v2.login.items, [login('a', 'lobby')], 'login carries the handshake query');

  assert.deepEqual(await a.emitWithAck('leave', { room: 'lobby' }), { room: 'lobby', rooms: ['vip'] });
  await seen.l1.logout.waitCount(1, { label: 'l1' });
  await seen.l2.logout.waitCount(1, { label: 'l2' });
  assert.deepEqual(seen.l2.logout.items, [login('a', 'lobby')], 'logout carries what login did');
  await settle();
  for (const name of ['l1', 'l2']) assert.deepEqual(seen[name].login.items, [], `${name}: no login from a vip join`);
  for (const name of ['v1', 'v2']) assert.deepEqual(seen[name].logout.items, [], `${name}: no logout from a lobby leave`);

  // Having left its handshake channel, its messages go to vip only.
  const chats = { l2: collect(l2, 'chat'), v2: collect(v2, 'chat') };
  a.emit('message', { body: 'to vip' });
  await chats.v2.waitCount(1);
  await settle();
  assert.deepEqual(chats.l2.items, [], 'the channel it left gets nothing');
  assert.equal(a.connected, true);
});

test('a disconnect tells each of its rooms logout, each member once, on both instances', TIMEOUT, async (t) => {
  const { s, s1, s2 } = await twoInstances(t);
  const { a, both, v1, x } = await clients(s, { a: [s1, 'lobby'], both: [s2, 'lobby'], v1: [s1, 'vip'], x: [s2, 'elsewhere'] });
  await both.emitWithAck('join', 'vip');
  await a.emitWithAck('join', 'vip');
  await settle();
  const logouts = { both: collect(both, 'logout'), v1: collect(v1, 'logout'), x: collect(x, 'logout') };
  a.disconnect();
  await logouts.both.waitCount(1);
  await logouts.v1.waitCount(1);
  await settle();
  assert.deepEqual(logouts.both.items, [login('a', 'lobby')], 'in two of its rooms, told once');
  assert.deepEqual(logouts.v1.items, [login('a', 'lobby')]);
  assert.deepEqual(logouts.x.items, [], 'another room is not told');
});

test('a message to several rooms reaches each member once, stamped, the payload untouched', TIMEOUT, async (t) => {
  const { s, s1, s2 } = await twoInstances(t);
  const a = await s.client(s1.url, { channel: 'r1', userId: 'a' });
  const members = await clients(s, { b1: [s1, 'r1'], both1: [s1, 'r1'], both2: [s2, 'r1'], c2: [s2, 'r2'] });
  const outsider = collect(await s.client(s2.url, { channel: 'r3', userId: 'o' }), 'chat');
  await members.both1.emitWithAck('join', 'r2');
  await members.both2.emitWithAck('join', 'r2');
  await a.emitWithAck('join', 'r2');
  await settle();
  const chats = {};
  for (const [name, sock] of Object.entries(members)) chats[name] = collect(sock, 'chat');

  const payloads = [{ body: 'one', n: 1 }, { body: 'two', nested: { id: 'x' } }, {}];
  const acks = [];
  for (const p of payloads) acks.push(await a.emitWithAck('message', p));
  a.emit('message', 'a string');  // not an object: unstamped
  for (const name of Object.keys(members)) await chats[name].waitCount(4, { label: name });
  await settle();
  const ids = new Set();
  for (const [name, c] of Object.entries(chats)) {
    assert.deepEqual(c.items, [...payloads, 'a string'], `${name}: each message once, the client's fields as sent`);
    assert.equal(c.stamps[3], null, `${name}: a string payload is unstamped`);
    c.stamps.slice(0, 3).forEach((st, i) => {
      assert.ok(st, `${name}: message ${i} stamped`);
      assert.equal(st.id, acks[i].id, `${name}: the stamp's id is the one the ack named`);
      assert.ok(Math.abs(st.ts - Date.now()) < 10_000, `${name}: ts ${st.ts} is ms since the epoch`);
    });
    for (const st of c.stamps.slice(0, 3)) ids.add(st.id);
  }
  assert.equal(ids.size, 3, 'one id per message, the same for every member');
  for (const ack of acks) assert.equal(ack.bus, true);
  assert.deepEqual(outsider.items, []);

  // Ids are unique across instances too: the other instance's stamps differ from these.
  const back = collect(a, 'chat');
  const ack2 = await members.c2.emitWithAck('message', { body: 'from s2' });
  await back.waitCount(1);
  assert.equal(back.stamps[0].id, ack2.id);
  assert.ok(!ids.has(ack2.id), `${ack2.id} is not one of s1's ids`);
});

test('bad room names are refused with a clear error: an ack, or an error event; never a disconnect', TIMEOUT, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 1, redisUrl: redis.url, config: { limits: { max_channel_length: 16 } } });
  const a = await s.client(server.url, { channel: 'lobby', userId: 'a' });
  const usage = 'a room name is needed: emit(event, "room") or emit(event, {room: "room"})';
  assert.deepEqual(await a.emitWithAck('join', 'x'.repeat(17)), { error: 'room is longer than 16 characters' });
  assert.deepEqual(await a.emitWithAck('join', 'bad\u0007room'), { error: 'room contains a control character' });
  assert.deepEqual(await a.emitWithAck('join', 42), { error: usage });
  assert.deepEqual(await a.emitWithAck('join', { name: 'x' }), { error: usage });
  assert.deepEqual(await a.emitWithAck('leave', 'vip'), { error: 'not in room vip' });
  assert.deepEqual(await a.emitWithAck('who', 'x'.repeat(17)), { error: 'room is longer than 16 characters' });
  const errors = collect(a, 'error');
  a.emit('join', 'x'.repeat(17));
  await errors.waitCount(1);
  assert.deepEqual(errors.items, [{ message: 'room is longer than 16 characters', event: 'join' }]);
  assert.deepEqual(await a.emitWithAck('join', 'fine'), { room: 'fine', rooms: ['lobby', 'fine'] });
  assert.equal(a.connected, true, 'still connected');
});

test('who lists a room\'s members on every node: two chatd instances and a Node peer', { timeout: 120_000, skip: SKIP }, async (t) => {
  const fleet = await startFleet(t);
  const s = scope(t);
  const other = await s.server({ workers: 1, redisUrl: fleet.redis.url });
  const tag = 'who';
  const chatd = await serverClients(s, fleet, { tag, room: tag, n: 2 });
  const node = await peerClients(s, fleet, { tag, room: tag, n: 2 });
  const far = await s.client(other.url, { channel: tag, userId: `${tag}-far` });
  // A member that joined with `join` counts; one in another room does not.
  const joiner = await s.client(other.url, { channel: `${tag}-x`, userId: `${tag}-joiner` });
  await joiner.emitWithAck('join', tag);
  await s.client(fleet.peer.url, { channel: `${tag}-x`, userId: `${tag}-outside`, transports: ['polling'] });

  const answer = await chatd[0].timeout(5000).emitWithAck('who', tag);
  assert.equal(answer.room, tag);
  const got = answer.sockets.map(({ id, userId }) => ({ id, userId })).sort((x, y) => (x.id < y.id ? -1 : 1));
  const want = [...chatd, ...node, far, joiner].map((c) => ({ id: c.id, userId: userIdOf(c) }))
    .sort((x, y) => (x.id < y.id ? -1 : 1));
  assert.deepEqual(got, want, 'every member, each once, wherever it is');
  assert.deepEqual(answer.nodes.missing, [], 'every node answered');
  // who(): the asker's handshake channel.
  const mine = await far.timeout(5000).emitWithAck('who');
  assert.equal(mine.room, tag);
  assert.equal(mine.sockets.length, want.length);
});

test('a socket that left every room sends nowhere: not to the fleet (no rooms would mean every socket)', TIMEOUT, async (t) => {
  const { s, s1, s2 } = await twoInstances(t);
  const { a, b1, b2 } = await clients(s, { a: [s1, 'nr-home'], b1: [s1, 'nr-other'], b2: [s2, 'nr-other'] });
  const chats = { b1: collect(b1, 'chat'), b2: collect(b2, 'chat') };
  assert.deepEqual(await a.emitWithAck('leave', 'nr-home'), { room: 'nr-home', rooms: [] });
  assert.deepEqual(await a.emitWithAck('message', { body: 'to nobody' }), { bus: false, error: 'in no room: join one first' });
  a.emit('message', Buffer.from([1, 2, 3]));
  await settle();
  assert.deepEqual(chats.b1.items, [], 'not to another room on the same instance');
  assert.deepEqual(chats.b2.items, [], 'not to another room on another instance');
  assert.ok(a.connected);
});

test('a room shaped like a socket id cannot be joined: another socket\'s private messages stay its own', TIMEOUT, async (t) => {
  // `who` shows socket ids, and io.to(id) is how a server writes to one socket: a client in a
  // room of that name would get them (and, on the victim's worker, take them from it).
  const { s, redis, s1, s2 } = await twoInstances(t);
  const { a, v1, v2 } = await clients(s, { a: [s1, 'sid-a'], v1: [s1, 'sid-v'], v2: [s2, 'sid-v'] });
  const peer = s.track(await startPeer({ redisUrl: redis.url }));
  for (const victim of [v1, v2]) {
    const answer = await a.emitWithAck('join', victim.id);
    assert.match(answer.error, /shaped like a socket id/, `join ${victim.id}`);
  }
  assert.match((await a.emitWithAck('join', 'AbCdEfGhIjKlMnOpQr_-')).error, /shaped like a socket id/);
  const got = { a: collect(a, 'private'), v1: collect(v1, 'private'), v2: collect(v2, 'private') };
  for (const victim of [v1, v2]) await peer.call('emit', { rooms: [victim.id], event: 'private', args: [`for ${victim.id}`] });
  await got.v1.waitCount(1, { label: 'v1, its own private message' });
  await got.v2.waitCount(1, { label: 'v2, its own private message' });
  await settle();
  assert.deepEqual(got.a.items, [], 'nothing for the socket that tried');
  // Other 20-character names with a character outside base64url are rooms like any other.
  assert.deepEqual(await a.emitWithAck('join', 'general-discussion!!'), { room: 'general-discussion!!', rooms: ['sid-a', 'general-discussion!!'] });
});

test('with adapter.subscription rooms, a message from another instance right after the join ACK arrives', TIMEOUT, async (t) => {
  // A subscription per room: a room new to this worker is subscribed at its first member, and
  // the join ACK waits for Redis to confirm that SUBSCRIBE, as the CONNECT answer does. Without
  // the wait this fails about every other run.
  const s = scope(t);
  const redis = await s.redis();
  const config = { adapter: { subscription: 'rooms' } };
  const s1 = await s.server({ workers: 1, redisUrl: redis.url, config });
  const s2 = await s.server({ workers: 1, redisUrl: redis.url, config });
  const sender = await s.client(s2.url, { channel: 'sub-new', userId: 'sub-s' });
  for (let i = 0; i < 5; i++) {
    const a = await s.client(s1.url, { channel: 'sub-home', userId: `sub-a${i}` });
    const chats = collect(a, 'chat');
    assert.deepEqual(await a.emitWithAck('join', 'sub-new'), { room: 'sub-new', rooms: ['sub-home', 'sub-new'] });
    await sender.emitWithAck('message', { n: i });
    await chats.waitFor((p) => p.n === i, { label: `a${i}: the message sent right after its join ACK` });
    a.disconnect(); // the room goes from s1 again: the next join subscribes anew
    await settle();
  }
});
