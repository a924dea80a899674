'use strict';
// The seed's chat flow inside one worker (--workers 1): login on join, message -> chat to the
// room's other members only, leave on disconnect, and payloads of every JSON shape delivered
// unchanged (checked on the decoded value and on the exact bytes of the `chat` packet).

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, collectAny, settle, isReference, unstampText } = require('./lib/harness');
const { openEngineIO } = require('./lib/rawws');

const TIMEOUT = { timeout: 60_000 };

async function world(t, { workers = 1 } = {}) {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers, redisUrl: redis.url });
  return { s, redis, server };
}

test('a member joining gets the others in its room a login with its handshake query', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'r1', userId: 'alice' });
  const c = await s.client(server.url, { channel: 'r2', userId: 'carol' });
  const aLogin = collect(a, 'login');
  const cLogin = collect(c, 'login');

  const b = await s.client(server.url, { channel: 'r1', userId: 'bob' });
  const bLogin = collect(b, 'login');
  const login = await aLogin.waitFor((q) => q && q.userId === 'bob', { label: 'from bob' });

  assert.equal(login.channel, 'r1');
  assert.equal(login.userId, 'bob');
  // What the reference (Socket.IO's handshake.query) gives: the client's query plus EIO/transport.
  assert.deepEqual(login, { channel: 'r1', userId: 'bob', EIO: '4', transport: 'websocket' });
  await settle();
  assert.equal(aLogin.items.length, 1, `alice got exactly one login: ${JSON.stringify(aLogin.items)}`);
  assert.deepEqual(cLogin.items, [], 'a member of another room gets no login');
  assert.deepEqual(bLogin.items, [], 'the joiner does not get its own login');
});

test('login carries every query parameter, percent-decoded', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'room 한글', userId: 'a' });
  const logins = collect(a, 'login');
  const userId = 'Zoë & co = 100% ✓ ?#/';
  await s.client(server.url, { channel: 'room 한글', userId, query: { nick: '😀', empty: '' } });
  const login = await logins.waitCount(1).then(() => logins.items[0]);
  assert.deepEqual(login, { channel: 'room 한글', userId, nick: '😀', empty: '', EIO: '4', transport: 'websocket' });
});

test('a message reaches every other member of the room as chat, never the sender or another room', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'r1', userId: 'a' });
  const b = await s.client(server.url, { channel: 'r1', userId: 'b' });
  const d = await s.client(server.url, { channel: 'r1', userId: 'd' });
  const c = await s.client(server.url, { channel: 'r2', userId: 'c' });
  const got = { a: collect(a, 'chat'), b: collect(b, 'chat'), c: collect(c, 'chat'), d: collect(d, 'chat') };
  const anyA = collectAny(a);
  const anyC = collectAny(c);

  const payload = { userId: 'a', channel: 'r1', body: 'hello' };
  a.emit('message', payload);
  await got.b.waitCount(1, { label: 'b' });
  await got.d.waitCount(1, { label: 'd' });
  assert.deepEqual(got.b.items[0], payload);
  assert.deepEqual(got.d.items[0], payload);
  assert.deepEqual(got.b.args[0], [payload], 'chat carries exactly one argument');

  // the other direction, and a second room's traffic that r1 must not see
  c.emit('message', { userId: 'c', channel: 'r2', body: 'elsewhere' });
  b.emit('message', { userId: 'b', channel: 'r1', body: 'back' });
  await got.a.waitCount(1, { label: 'a' });
  await got.d.waitCount(2, { label: 'd' });
  assert.deepEqual(got.a.items, [{ userId: 'b', channel: 'r1', body: 'back' }]);
  await settle();
  assert.deepEqual(got.b.items, [payload], 'b does not get its own message back');
  assert.deepEqual(got.c.items, [], 'a member of another room got nothing');
  assert.deepEqual(anyA.filter((e) => e.event !== 'login').map((e) => e.event), ['chat'], 'a saw one chat');
  assert.deepEqual(anyC, [], 'c saw no event at all');
});

test('messages from one sender arrive in the order sent', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'ord', userId: 'a' });
  const b = await s.client(server.url, { channel: 'ord', userId: 'b' });
  const got = collect(b, 'chat');
  const n = 200;
  for (let i = 0; i < n; i++) a.emit('message', { userId: 'a', channel: 'ord', body: `m${i}`, i });
  await got.waitCount(n);
  assert.deepEqual(got.items.map((p) => p.i), Array.from({ length: n }, (_, i) => i));
});

test('a member that disconnects leaves its room: the others go on chatting with no strays', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'r1', userId: 'a' });
  const aLogin = collect(a, 'login');
  const b = await s.client(server.url, { channel: 'r1', userId: 'b' });
  const d = await s.client(server.url, { channel: 'r1', userId: 'd' });
  const dChat = collect(d, 'chat');
  await aLogin.waitCount(2);
  const aAny = collectAny(a);

  b.disconnect();
  await settle();
  // The seed leaves silently; chatd tells the room `logout` with the member's login payload.
  const expected = isReference ? [] : [{ event: 'logout', args: [{ channel: 'r1', userId: 'b', EIO: '4', transport: 'websocket' }] }];
  assert.deepEqual(aAny, expected, 'a leaving member: logout (chatd), nothing (the seed)');

  a.emit('message', { userId: 'a', channel: 'r1', body: 'after b left' });
  await dChat.waitCount(1);

  // b comes back as a new socket: exactly one copy of each later message
  const b2 = await s.client(server.url, { channel: 'r1', userId: 'b' });
  const b2Chat = collect(b2, 'chat');
  a.emit('message', { userId: 'a', channel: 'r1', body: 'welcome back' });
  await b2Chat.waitCount(1);
  await dChat.waitCount(2);

  // the whole room empties and fills again
  a.disconnect();
  b2.disconnect();
  d.disconnect();
  await settle();
  const e = await s.client(server.url, { channel: 'r1', userId: 'e' });
  const f = await s.client(server.url, { channel: 'r1', userId: 'f' });
  const fChat = collect(f, 'chat');
  e.emit('message', { userId: 'e', channel: 'r1', body: 'new room' });
  await fChat.waitCount(1);
  await settle();
  assert.equal(b2Chat.items.length, 1, `b2 got ${JSON.stringify(b2Chat.items)}`);
  assert.equal(dChat.items.length, 2, `d got ${JSON.stringify(dChat.items)}`);
  assert.equal(fChat.items.length, 1);
  assert.equal(server.exited, null, 'the server is still running');
});

// Payloads of every JSON shape; the sender is socket.io-client, so the bytes on the wire are
// JSON.stringify(payload), and chat must carry exactly those bytes.
const big = { userId: 'a', channel: 'big', body: 'x'.repeat(100 * 1024) };
const PAYLOADS = [
  ['unicode', { userId: '사용자', channel: 'r', body: 'héllo 👋🏽 世界 مرحبا \u2028\u2029 "quoted" \\back\\ \n\t\u0000\u001f' }],
  ['nested JSON', { a: { b: { c: [1, [2, [3, { d: null }]]], e: {} }, f: [] }, g: [{ h: 'i' }] }],
  ['numbers', { ints: [0, 1, -1, 2147483647, -2147483648, 9007199254740991], floats: [0.5, -0.25, 3.141592653589793, 1e-7], big: 1e21, neg: -1e21, tiny: 5e-324 }],
  ['null', null],
  ['true', true],
  ['false', false],
  ['a number', 42],
  ['a negative float', -12.5],
  ['a string', 'just a string'],
  ['an empty string', ''],
  ['an empty object', {}],
  ['an array', [1, 'two', { three: 3 }, [4], null, false]],
  ['~100 KB', big],
];

test('payloads of every JSON shape arrive identical (decoded by socket.io-client)', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'p', userId: 'a' });
  const b = await s.client(server.url, { channel: 'p', userId: 'b' });
  const got = collect(b, 'chat');
  for (const [, payload] of PAYLOADS) a.emit('message', payload);
  await got.waitCount(PAYLOADS.length);
  PAYLOADS.forEach(([name, payload], i) => assert.deepEqual(got.items[i], payload, name));
});

test('the chat packet carries the payload bytes unchanged (raw receiver)', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const a = await s.client(server.url, { channel: 'p', userId: 'a' });
  const raw = s.track(await openEngineIO(server.port, { query: { channel: 'p', userId: 'raw' } }));
  const reply = await raw.connect();
  assert.match(reply, /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
  for (const [name, payload] of PAYLOADS) {
    a.emit('message', payload);
    const text = await raw.next({ label: `chat ${name}`, match: (x) => x.startsWith('42') });
    assert.equal(unstampText(text), `42["chat",${JSON.stringify(payload)}]`, name);
  }
});

test('payload bytes from a raw sender keep their meaning (numbers JSON.stringify would rewrite)', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const sender = s.track(await openEngineIO(server.port, { query: { channel: 'q', userId: 'raw' } }));
  await sender.connect();
  const b = await s.client(server.url, { channel: 'q', userId: 'b' });
  const got = collect(b, 'chat');
  // Texts a JS client would never produce; a server may re-serialise them (the reference does) or
  // splice them (chatd does): either way the receiver must decode the same values.
  const texts = ['{"n":1e21,"m":1E+2,"f":1.50,"e":2.5e-3}', '[ 1 , 2 ,\t{ "a" : "b" } ]', '"\\u00e9\\ud83d\\ude00"'];
  for (const text of texts) sender.send(`42["message",${text}]`);
  await got.waitCount(texts.length);
  texts.forEach((text, i) => assert.deepEqual(got.items[i], JSON.parse(text), text));
});

test('a large payload (~100 KB) reaches every member of a crowded room', TIMEOUT, async (t) => {
  const { s, server } = await world(t);
  const sender = await s.client(server.url, { channel: 'big', userId: 'a' });
  const receivers = [];
  for (let i = 0; i < 10; i++) receivers.push(collect(await s.client(server.url, { channel: 'big', userId: `r${i}` }), 'chat'));
  for (let k = 0; k < 3; k++) sender.emit('message', { ...big, k });
  for (const r of receivers) await r.waitCount(3);
  for (const r of receivers) r.items.forEach((p, k) => assert.deepEqual(p, { ...big, k }));
  t.diagnostic(`target: ${isReference ? 'reference' : 'chatd'}`);
});
