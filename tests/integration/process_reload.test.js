'use strict';
// SIGHUP reload: a new generation of workers starts on the same sockets and the old one retires
// only once the new one accepts, so no connection attempt fails and no message to a connected
// client is lost or doubled, however many reloads come (one at a time, queued). A broken file is
// refused with its line and changes nothing. `workers` and the listening port change by reload.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { scope, waitFor, portAccepts, connectClient, httpRequest, freePort, isReference } = require('./lib/harness');
const { liveWorkers, member, say, checkExactlyOnce, listeningInodes } = require('./lib/process');

const skip = isReference ? 'reload is chatd\'s own' : false;

// Replaces `key: value` lines of the harness-written config (top level or nested, as written).
function editConfig(server, edits) {
  let text = fs.readFileSync(server.configPath, 'utf8');
  for (const [pattern, replacement] of edits) {
    assert.ok(pattern.test(text), `config has ${pattern}:\n${text}`);
    text = text.replace(pattern, replacement);
  }
  fs.writeFileSync(server.configPath, text);
}

// Opens clients in `room` back to back from `parallel` loops until stop() is called; each one says
// one message once connected (acknowledged) and stays connected. Counts what fails.
function connectionStream(s, server, room, { parallel = 3, prefix = 'n' } = {}) {
  const state = { attempts: 0, failures: [], members: [], bodies: [], running: true };
  let next = 0;
  const loop = async () => {
    while (state.running) {
      const id = `${prefix}${next++}`;
      state.attempts += 1;
      try {
        const m = await member(s, server.url, room, id, { timeout: 5000 });
        state.members.push(m);
        await say(m, `from-${id}`);
        state.bodies.push(`from-${id}`);
      } catch (e) {
        state.failures.push(`${id}: ${e.message}`);
      }
    }
  };
  const loops = Array.from({ length: parallel }, loop);
  state.stop = async () => {
    state.running = false;
    await Promise.all(loops);
    return state;
  };
  return state;
}

// Plain HTTP requests (GET /healthz, a new connection each) from `parallel` loops until stop():
// many more connection attempts than socket.io clients make. Any request without an answer fails.
function httpStream(port, { parallel = 4 } = {}) {
  const state = { attempts: 0, failures: [], running: true };
  const loop = async () => {
    while (state.running) {
      state.attempts += 1;
      try {
        await httpRequest(port, { path: '/healthz', timeout: 5000 });
      } catch (e) {
        state.failures.push(e.message);
      }
    }
  };
  const loops = Array.from({ length: parallel }, loop);
  state.stop = async () => {
    state.running = false;
    await Promise.all(loops);
    return state;
  };
  return state;
}

test('SIGHUP several times during a stream of connections and messages: no connection fails, every message reaches every member exactly once', { timeout: 180_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  // Old generations keep their clients for the whole test: nobody is cut by shutdown_timeout.
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, config: { shutdown_timeout: '60s' } });
  await server.waitForLog(/all 2 workers ready/);

  const listeners = [];
  for (let i = 0; i < 8; i++) listeners.push(await member(s, server.url, 'live', `listener${i}`));
  const stream = connectionStream(s, server, 'live', { parallel: 4 });
  const http = httpStream(server.port);
  await waitFor(() => stream.bodies.length >= 20, { message: 'the stream to get going' });

  // Four reloads one after the other, then one sent while another runs (it waits its turn).
  for (let generation = 2; generation <= 5; generation++) {
    server.signal('SIGHUP');
    await server.waitForLog(new RegExp(`reload done: generation ${generation} serving`), 15_000);
    const before = stream.bodies.length;
    await waitFor(() => stream.bodies.length >= before + 20, { message: `messages to flow after reload ${generation}` });
  }
  // Signals of one kind do not queue in the kernel: the second is sent once the first was taken.
  server.signal('SIGHUP');
  await server.waitForLog(/reload: generation 6 starting/, 15_000);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 7 serving/, 15_000);
  const before = stream.bodies.length;
  await waitFor(() => stream.bodies.length >= before + 10, { message: 'messages to flow after the last reload' });
  await stream.stop();
  await http.stop();

  t.diagnostic(`reloads: 6; socket.io connections attempted: ${stream.attempts}, failed: ` +
    `${stream.failures.length}; messages: ${stream.bodies.length}; HTTP requests (one connection ` +
    `each) attempted: ${http.attempts}, failed: ${http.failures.length}`);
  assert.deepEqual(stream.failures, [], 'no connection attempt or message failed');
  assert.deepEqual(http.failures.slice(0, 5), [], `no HTTP request failed (${http.failures.length} did)`);

  // Reloads ran one at a time: each generation was done before the next one started.
  const order = server.logs.filter((l) => /reload: generation \d+ starting|reload done: generation \d+/.test(l))
    .map((l) => (/starting/.test(l) ? 'start ' : 'done ') + /generation (\d+)/.exec(l)[1]);
  assert.deepEqual(order, [2, 3, 4, 5, 6, 7].flatMap((g) => [`start ${g}`, `done ${g}`]));
  assert.ok(liveWorkers(server).some((w) => w.generation === 7), 'generation 7 serves');

  // Listeners were connected before every message: each got each one exactly once.
  const problems = [];
  for (const m of listeners) {
    await m.chats.waitFor(() => stream.bodies.every((b) => m.chats.items.some((p) => p.body === b)), { timeout: 15_000, label: `all ${stream.bodies.length} stream messages at ${m.userId}` });
    problems.push(...checkExactlyOnce(m, stream.bodies));
  }
  // Stream clients joined along the way: they never get a duplicate or their own message.
  for (const m of stream.members) {
    const got = m.chats.items.map((p) => p.body);
    if (new Set(got).size !== got.length) problems.push(`${m.userId} got a duplicate: ${got}`);
    if (got.includes(`from-${m.userId}`)) problems.push(`${m.userId} got its own message back`);
  }
  // After the reloads, one more message reaches everybody still connected, once.
  const everyone = [...stream.members, ...listeners.slice(1)];
  for (const m of everyone) m.chats.clear();
  await say(listeners[0], 'last');
  for (const m of everyone) {
    await m.chats.waitFor((p) => p.body === 'last', { timeout: 10_000, label: `'last' at ${m.userId}` });
    problems.push(...checkExactlyOnce(m, ['last']));
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(listeners.flatMap((m) => m.disconnects), [], 'no listener was disconnected');
});

test('a broken config on SIGHUP is refused with its file and line; the running workers serve on unchanged', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url });
  await server.waitForLog(/all 2 workers ready/);
  const a = await member(s, server.url, 'r', 'a');
  const b = await member(s, server.url, 'r', 'b');
  const pids = server.workerPids();
  const good = fs.readFileSync(server.configPath, 'utf8');

  // An unknown key on the last line.
  const line = good.split('\n').length;
  fs.writeFileSync(server.configPath, `${good}no_such_key: 1\n`);
  server.signal('SIGHUP');
  const refused = await server.waitForLog(/reload refused: /);
  assert.ok(refused.includes(`reload refused: ${server.configPath}:${line}: `), `file:line in ${refused}`);
  assert.match(refused, /no_such_key/);

  // Syntax error.
  fs.writeFileSync(server.configPath, `${good}listen: [unclosed\n`);
  server.signal('SIGHUP');
  await waitFor(() => server.logs.filter((l) => /reload refused: /.test(l)).length === 2, { message: 'a second refusal' });
  assert.match(server.logs.filter((l) => /reload refused: /.test(l))[1], new RegExp(`${server.configPath}:\\d+: `));

  // The file is gone.
  fs.rmSync(server.configPath);
  server.signal('SIGHUP');
  await waitFor(() => server.logs.filter((l) => /reload refused: /.test(l)).length === 3, { message: 'a third refusal' });
  assert.ok(server.logs.filter((l) => /reload refused: /.test(l))[2].includes(server.configPath));

  assert.deepEqual(server.workerPids(), pids, 'the same workers serve');
  assert.equal(server.logs.filter((l) => /reload: generation/.test(l)).length, 0, 'no generation was started');
  await say(a, 'still here');
  await b.chats.waitFor((p) => p.body === 'still here');
  const c = await member(s, server.url, 'r', 'c');
  await say(c, 'new one');
  await a.chats.waitFor((p) => p.body === 'new one');

  // A good file again: the next reload goes through.
  fs.writeFileSync(server.configPath, good);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/);
  assert.deepEqual([a, b, c].flatMap((m) => m.disconnects), []);
});

test('a reload takes workers from 2 to 3 and back to 2 without a failed connection; the dropped socket closes', { timeout: 120_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, config: { shutdown_timeout: '2s' } });
  await server.waitForLog(/all 2 workers ready/);
  assert.equal(listeningInodes(server.port).size, 2);

  const stream = connectionStream(s, server, 'grow', { prefix: 'g' });
  const http = httpStream(server.port);
  editConfig(server, [[/^workers: 2$/m, 'workers: 3']]);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving \(3 workers\)/, 15_000);
  assert.equal(listeningInodes(server.port).size, 3, 'one more listening socket');
  await waitFor(() => liveWorkers(server).filter((w) => w.generation === 2).length === 3, { message: '3 workers of generation 2' });

  // New connections reach all three slots.
  const seen = new Set();
  const probes = [];
  while (seen.size < 3) {
    assert.ok(probes.length < 200, `200 clients and only slots ${[...seen]}`);
    const m = await member(s, server.url, 'probe', `p${probes.length}`);
    probes.push(m);
    seen.add(m.slot);
  }

  const beforeShrink = stream.bodies.length;
  await waitFor(() => stream.bodies.length >= beforeShrink + 10, { message: 'the stream to run on 3 workers' });
  editConfig(server, [[/^workers: 3$/m, 'workers: 2']]);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 3 serving \(2 workers\)/, 15_000);
  const afterShrink = stream.bodies.length;
  await waitFor(() => stream.bodies.length >= afterShrink + 30, { message: 'the stream to run on after the shrink' });
  await stream.stop();
  await http.stop();
  t.diagnostic(`2 -> 3 -> 2 workers: socket.io connections attempted ${stream.attempts}, failed ` +
    `${stream.failures.length}; HTTP requests attempted ${http.attempts}, failed ${http.failures.length}`);
  assert.deepEqual(stream.failures, []);
  assert.deepEqual(http.failures.slice(0, 5), [], `no HTTP request failed (${http.failures.length} did)`);

  // Slot 2's socket closes once the generation-2 worker on it is gone (shutdown_timeout 2 s).
  await server.waitForLog(/closed 1 retired sockets/, 15_000);
  assert.equal(listeningInodes(server.port).size, 2, 'back to two listening sockets');
  for (let i = 0; i < 40; i++) {
    const m = await member(s, server.url, 'probe', `q${i}`);
    assert.ok(m.slot === 0 || m.slot === 1, `a new connection landed on slot ${m.slot}`);
  }
});

test('a reload to another port: the new port serves at once, the old one closes when the old generation is gone', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, config: { shutdown_timeout: '2s' } });
  await server.waitForLog(/all 2 workers ready/);
  const newPort = await freePort();
  editConfig(server, [[new RegExp(`port: ${server.port}$`, 'm'), `port: ${newPort}`]]);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 15_000);

  const socket = await connectClient(`http://127.0.0.1:${newPort}`, { channel: 'moved', userId: 'x' });
  s.track(socket);
  assert.equal(listeningInodes(newPort).size, 2);
  await waitFor(async () => !(await portAccepts(server.port)), { timeout: 15_000, message: `port ${server.port} to stop accepting` });
  assert.equal(listeningInodes(server.port).size, 0, 'the old sockets are closed');
});

test('an old worker that outlives shutdown_timeout + 5 s is killed', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 1, redisUrl: redis.url, config: { shutdown_timeout: '1s' } });
  await server.waitForLog(/all 1 workers ready/);
  const [old] = liveWorkers(server);
  // A stopped process cannot act on SIGQUIT: it stands for a worker stuck in a loop.
  process.kill(old.pid, 'SIGSTOP');
  s.defer(() => {
    try {
      process.kill(old.pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  });
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 15_000);
  await server.waitForLog(new RegExp(`worker 0 \\(pid ${old.pid}, generation 1\\) still running 5000 ms past its shutdown_timeout: killing it`), 20_000);
  await server.waitForLog(new RegExp(`worker 0 \\(pid ${old.pid}, generation 1\\) was killed by signal 9`), 5_000);
  const m = await member(s, server.url, 'r', 'after');
  assert.equal(m.slot, 0);
});
