'use strict';
// Supervision: a worker killed with SIGKILL is noticed at once, logged with its signal and
// respawned in its slot on the same listening socket; clients of the other worker lose nothing;
// the dead worker's clients reconnect (socket.io-client does) and are back in their room. A slot
// whose worker keeps dying is respawned with a growing delay, and the master says so.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, waitFor, isReference } = require('./lib/harness');
const {
  masterWorkers, liveWorkers, logTime, listeningInodes, socketInodes, member, say,
  checkExactlyOnce,
} = require('./lib/process');

const skip = isReference ? 'supervision is chatd\'s own' : false;
const RECONNECT = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500, randomizationFactor: 0 };

// Connects members to `room` until each of the `slots` holds at least `per` of them.
async function membersOnEverySlot(s, server, room, slots, per) {
  const members = [];
  const bySlot = () => {
    const counts = new Map(slots.map((k) => [k, 0]));
    for (const m of members) counts.set(m.slot, (counts.get(m.slot) || 0) + 1);
    return counts;
  };
  while ([...bySlot().values()].some((n) => n < per)) {
    assert.ok(members.length < 200, `200 clients and still a slot with fewer than ${per}: ${JSON.stringify([...bySlot()])}`);
    members.push(await member(s, server.url, room, `u${members.length}`, RECONNECT));
  }
  return members;
}

test('kill -9 of a worker: its slot is respawned on the same socket, the other worker\'s clients lose nothing, the dropped ones come back into their room', { timeout: 120_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url });
  await server.waitForLog(/all 2 workers ready/);
  const members = await membersOnEverySlot(s, server, 'survive', [0, 1], 4);

  const victim = liveWorkers(server).find((w) => w.slot === 0);
  assert.ok(victim, `a live worker in slot 0: ${JSON.stringify(liveWorkers(server))}`);
  const sockets = listeningInodes(server.port);
  assert.equal(sockets.size, 2, 'two listening sockets, one per slot');
  const victimSocket = [...socketInodes(victim.pid)].filter((ino) => sockets.has(ino));
  assert.equal(victimSocket.length, 1, `worker 0 holds exactly one of them: ${victimSocket}`);

  const killedAt = Date.now();
  process.kill(victim.pid, 'SIGKILL');

  const readyLine = await server.waitForLog(new RegExp(`worker 0 ready: pid (?!${victim.pid},)(\\d+), generation 1`), 10_000);
  const newPid = Number(/pid (\d+)/.exec(readyLine)[1]);
  assert.notEqual(newPid, victim.pid);
  await server.waitForLog(new RegExp(`worker 0 \\(pid ${victim.pid}, generation 1\\) was killed by signal 9`));
  t.diagnostic(`respawn: worker 0 killed at ${new Date(killedAt).toISOString()}, replacement ready ` +
    `${logTime(readyLine) - killedAt} ms later (log clock, ms resolution)`);
  assert.deepEqual(masterWorkers(server).get(newPid), { slot: 0, generation: 1 });

  // Same slot, same socket: nothing new was opened, nothing closed.
  assert.deepEqual(listeningInodes(server.port), sockets, 'the port has the same two listening sockets');
  assert.ok(socketInodes(newPid).has(victimSocket[0]), 'the new worker 0 accepts on the old worker 0\'s socket');

  const dropped = members.filter((m) => m.slot === 0);
  const kept = members.filter((m) => m.slot === 1);
  await waitFor(() => dropped.every((m) => m.disconnects.length > 0), { message: 'every client of worker 0 to see its connection drop' });
  assert.deepEqual(kept.flatMap((m) => m.disconnects), [], 'clients of worker 1 stayed connected');

  // Clients of the surviving worker: everything they say reaches each other exactly once.
  const bodies = [];
  for (const m of kept) {
    const body = `kept-${m.userId}`;
    await say(m, body);
    bodies.push(body);
  }
  const problems = [];
  for (const m of kept) {
    const want = bodies.filter((b) => b !== `kept-${m.userId}`);
    await m.chats.waitFor(() => want.every((b) => m.chats.items.some((p) => p.body === b)), { label: `all of ${want.length} from the other survivors`, timeout: 10_000 });
    problems.push(...checkExactlyOnce(m, want));
  }
  assert.deepEqual(problems, []);

  // The dropped clients reconnect (to either worker) and are members of the room again.
  await waitFor(() => dropped.every((m) => m.socket.connected), { timeout: 15_000, message: () => `${dropped.filter((m) => !m.socket.connected).length} of ${dropped.length} dropped clients to reconnect` });
  for (const m of members) m.chats.clear();
  const round = [];
  for (const m of members) {
    const body = `after-${m.userId}`;
    await say(m, body);
    round.push(body);
  }
  for (const m of members) {
    const want = round.filter((b) => b !== `after-${m.userId}`);
    await m.chats.waitFor(() => want.every((b) => m.chats.items.some((p) => p.body === b)), { label: `all of ${want.length} after the reconnects`, timeout: 10_000 });
    problems.push(...checkExactlyOnce(m, want));
  }
  assert.deepEqual(problems, []);
});

test('a slot whose worker keeps dying is respawned with a growing delay, and the master says so', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url });
  await server.waitForLog(/all 2 workers ready/);

  const seen = new Set();
  const killSlot1 = async () => {
    const w = liveWorkers(server).find((x) => x.slot === 1 && !seen.has(x.pid));
    assert.ok(w, `a new worker in slot 1: ${JSON.stringify(liveWorkers(server))}`);
    seen.add(w.pid);
    process.kill(w.pid, 'SIGKILL');
    await server.waitForLog(new RegExp(`worker 1 \\(pid ${w.pid}, generation 1\\) was killed by signal 9`));
  };
  const nextWorker1 = () => waitFor(() => liveWorkers(server).some((x) => x.slot === 1 && !seen.has(x.pid)), { timeout: 15_000, message: () => `a respawned worker 1; log:\n${server.logTail(10)}` });

  // A worker that was up: the first death respawns at once, no backoff.
  await killSlot1();
  await nextWorker1();
  assert.equal(server.logs.filter((l) => /crash-looping/.test(l)).length, 0);
  // Quick deaths after that: 100 ms, then 200 ms, then 400 ms.
  for (const delay of [100, 200, 400]) {
    await killSlot1();
    await server.waitForLog(new RegExp(`worker 1 is crash-looping \\(up \\d+ ms\\): respawning in ${delay} ms`));
    await nextWorker1();
  }
  // Slot 0 was never disturbed.
  assert.equal(liveWorkers(server).filter((w) => w.slot === 0).length, 1);
  assert.equal(server.logs.filter((l) => /worker 0 started/.test(l)).length, 1);
});
