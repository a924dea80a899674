'use strict';
// /metrics is whole-daemon: counters and histograms count every worker the daemon ever ran, so a
// worker killed with SIGKILL (and respawned) or a generation retired by a SIGHUP reload takes
// none of its counts with it; gauges stay per worker process. The exposition passes
// `promtool check metrics` when promtool is installed, and our own format check always; the
// Grafana dashboard in etc/ is valid JSON whose queries name series /metrics has.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { scope, waitFor, getMetrics, isReference } = require('./lib/harness');
const { liveWorkers, member, say } = require('./lib/process');

const skip = isReference ? 'whole-daemon metrics, respawns and reloads are chatd\'s own' : false;
const SOURCE_DIR = process.env.CHATD_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const DASHBOARD = path.join(SOURCE_DIR, 'etc', 'grafana-chatd.json');

const COUNTERS = ['chatd_messages_in_total', 'chatd_deliveries_total', 'chatd_accepted_total',
  'chatd_bus_published_total', 'chatd_bus_received_total'];
const HISTOGRAMS = ['chatd_delivery_latency_seconds', 'chatd_message_size_bytes', 'chatd_redis_rtt_seconds'];

const value = (m, name, labels = {}) => {
  const hits = m.samples.filter((x) => x.name === name &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.equal(hits.length, 1, `exactly one ${name}${JSON.stringify(labels)} in /metrics: ${hits.length}`);
  return hits[0].value;
};
const snapshot = (m) => Object.fromEntries(COUNTERS.map((n) => [n, value(m, n)]));

// The text format as Prometheus reads it (exposition_formats.md), the rules promtool's linter adds
// (help on every family, _total counters) and what a histogram must hold. Returns the problems.
function formatProblems(text) {
  const problems = [];
  const families = new Map();  // name -> {type, help}
  const seen = new Set();
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  for (const line of text.split('\n').slice(0, -1)) {
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) {
      families.set(m[1], { ...(families.get(m[1]) || {}), help: m[2] });
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      if (families.get(m[1])?.type) problems.push(`second TYPE line for ${m[1]}`);
      families.set(m[1], { ...(families.get(m[1]) || {}), type: m[2] });
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/.exec(line))) {
      const [, name, labels = '', v] = m;
      if (!/^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]Inf|NaN)$/.test(v)) problems.push(`bad value: ${line}`);
      const key = name + labels;
      if (seen.has(key)) problems.push(`duplicate series: ${key}`);
      seen.add(key);
      const base = name.replace(/_(bucket|sum|count)$/, '');
      const fam = families.get(name) || families.get(base);
      if (!fam || !fam.type) problems.push(`sample before its TYPE line: ${line}`);
      else if (fam.type === 'counter' && !name.endsWith('_total')) problems.push(`counter without _total: ${name}`);
      if (fam && !fam.help) problems.push(`no HELP for ${name}`);
    } else {
      problems.push(`not a line of the text format: ${JSON.stringify(line)}`);
    }
  }
  return problems;
}

// Cumulative buckets, ending with +Inf, whose value is _count; _sum not negative.
function histogramProblems(m, name) {
  const buckets = m.samples.filter((x) => x.name === `${name}_bucket`);
  const problems = [];
  if (buckets.length < 2) return [`${name}: ${buckets.length} buckets`];
  const le = (b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le));
  for (let i = 1; i < buckets.length; ++i) {
    if (!(le(buckets[i]) > le(buckets[i - 1]))) problems.push(`${name}: le not increasing at ${i}`);
    if (buckets[i].value < buckets[i - 1].value) problems.push(`${name}: bucket ${buckets[i].labels.le} below the one before`);
  }
  if (buckets.at(-1).labels.le !== '+Inf') problems.push(`${name}: last bucket is not +Inf`);
  if (buckets.at(-1).value !== value(m, `${name}_count`)) problems.push(`${name}: +Inf bucket is not _count`);
  if (!(value(m, `${name}_sum`) >= 0)) problems.push(`${name}: negative _sum`);
  return problems;
}

function checkExposition(t, m) {
  assert.deepEqual(formatProblems(m.text), [], 'the exposition format');
  for (const h of HISTOGRAMS) assert.deepEqual(histogramProblems(m, h), [], h);
  // On PATH, or the one tests/install-deps.sh took out of Debian's prometheus package.
  const local = path.join(__dirname, '..', '.tools', 'promtool');
  const promtoolPath = fs.existsSync(local) ? local : 'promtool';
  const promtool = spawnSync(promtoolPath, ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
  if (promtool.error && promtool.error.code === 'ENOENT') {
    t.diagnostic('promtool is not installed (Debian: apt-get install prometheus): the format was checked here only');
    return;
  }
  assert.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
  t.diagnostic('promtool check metrics: ok');
}

// Connects members to `room` until both slots hold `per` of them.
async function membersOnBothSlots(s, server, room, per) {
  const members = [];
  const on = (slot) => members.filter((m) => m.slot === slot).length;
  while (on(0) < per || on(1) < per) {
    assert.ok(members.length < 100, `100 clients and still a slot with fewer than ${per}`);
    members.push(await member(s, server.url, room, `u${members.length}`));
  }
  return members;
}

// Every member says `n` messages; returns once each other member got them all.
async function chat(members, tag, n) {
  const before = new Map(members.map((m) => [m, m.chats.items.length]));
  for (let i = 0; i < n; ++i) {
    for (const m of members) await say(m, `${tag}-${m.userId}-${i}`);
  }
  for (const m of members) {
    const want = (members.length - 1) * n;
    await m.chats.waitFor(() => m.chats.items.length - before.get(m) >= want, { label: `${want} chats (${tag})`, timeout: 10_000 });
  }
}

const gaugePids = (m, name) => m.samples.filter((x) => x.name === name).map((x) => Number(x.labels.pid)).sort();

test('/metrics counters and histograms survive a worker\'s SIGKILL and a reload; gauges stay per worker', { timeout: 120_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url });
  await server.waitForLog(/all 2 workers ready/);
  const members = await membersOnBothSlots(s, server, 'metrics', 2);
  const n = 5;
  await chat(members, 'first', n);
  const sent1 = members.length * n;

  // The liveness PING runs once a second per worker: an RTT shows within a few.
  await waitFor(async () => value(await getMetrics(server.port), 'chatd_redis_rtt_seconds_count') >= 2,
    { timeout: 5000, message: 'chatd_redis_rtt_seconds_count >= 2 (both workers PINGed Redis)' });
  const m1 = await getMetrics(server.port);
  checkExposition(t, m1);
  const c1 = snapshot(m1);
  assert.equal(c1.chatd_messages_in_total, sent1, 'every message counted once');
  assert.equal(value(m1, 'chatd_message_size_bytes_count'), sent1, 'one size observation per message');
  assert.ok(value(m1, 'chatd_message_size_bytes_sum') >= sent1 * 30, 'the payloads\' bytes add up');
  // Each message reaches the other members: on the sender's worker at once, on the other from Redis.
  const latency1 = value(m1, 'chatd_delivery_latency_seconds_count');
  // (Logins are broadcasts too: at least one observation per message.)
  assert.ok(latency1 >= sent1, `one latency observation per broadcast that reached a worker's clients: ${latency1} for ${sent1} messages`);
  assert.ok(value(m1, 'chatd_delivery_latency_seconds_sum') < latency1 * 0.5, 'deliveries took well under 500 ms each on average');
  assert.ok(value(m1, 'chatd_redis_last_rtt_seconds', { worker: '0' }) > 0, 'worker 0 reports its last PING round trip');
  assert.equal(value(m1, 'chatd_worker_respawns_total'), 0);
  assert.equal(value(m1, 'chatd_reloads_total', { result: 'done' }), 0);
  assert.ok(c1.chatd_deliveries_total >= sent1 * (members.length - 1), `deliveries: ${c1.chatd_deliveries_total}`);

  // SIGKILL worker 0: the master folds its counts into the daemon's and respawns the slot.
  const victim = liveWorkers(server).find((w) => w.slot === 0);
  assert.deepEqual(gaugePids(m1, 'chatd_connections'), liveWorkers(server).map((w) => w.pid).sort(), 'one chatd_connections per live worker');
  process.kill(victim.pid, 'SIGKILL');
  await server.waitForLog(new RegExp(`worker 0 ready: pid (?!${victim.pid},)\\d+, generation 1`), 10_000);
  const m2 = await getMetrics(server.port);
  const c2 = snapshot(m2);
  for (const name of COUNTERS) {
    assert.ok(c2[name] >= c1[name], `${name} did not go down across the SIGKILL: ${c1[name]} -> ${c2[name]}`);
  }
  assert.equal(c2.chatd_messages_in_total, sent1, 'the dead worker\'s messages are still counted');
  assert.ok(value(m2, 'chatd_delivery_latency_seconds_count') >= latency1, 'latency observations kept');
  assert.equal(value(m2, 'chatd_message_size_bytes_count'), sent1, 'size observations kept');
  assert.equal(value(m2, 'chatd_worker_respawns_total'), 1, 'the master counted the respawn');
  assert.ok(!gaugePids(m2, 'chatd_connections').includes(victim.pid), 'the dead worker has no gauges any more');
  assert.equal(gaugePids(m2, 'chatd_connections').length, 2, 'gauges of the two live workers');

  // The survivors chat on; then a reload retires generation 1 altogether.
  const kept = members.filter((m) => m.slot === 1);
  await chat(kept, 'second', n);
  const sent2 = sent1 + kept.length * n;
  const m3 = await getMetrics(server.port);
  assert.equal(value(m3, 'chatd_messages_in_total'), sent2);

  const old = liveWorkers(server).map((w) => w.pid);
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 15_000);
  await waitFor(async () => {
    const m = await getMetrics(server.port);
    return gaugePids(m, 'chatd_connections').every((pid) => !old.includes(pid)) && m;
  }, { timeout: 15_000, message: 'the workers of generation 1 to exit (their gauges gone)' });
  const m4 = await getMetrics(server.port);
  checkExposition(t, m4);
  const c4 = snapshot(m4);
  for (const name of COUNTERS) {
    assert.ok(c4[name] >= c2[name], `${name} did not go down across the reload: ${c2[name]} -> ${c4[name]}`);
  }
  assert.equal(c4.chatd_messages_in_total, sent2, 'generation 1\'s messages are still counted');
  assert.equal(value(m4, 'chatd_message_size_bytes_count'), sent2);
  assert.equal(value(m4, 'chatd_reloads_total', { result: 'done' }), 1, 'the master counted the reload');
  assert.equal(value(m4, 'chatd_worker_respawns_total'), 1, 'a retired worker is no respawn');
  assert.ok(m4.samples.filter((x) => x.name === 'chatd_connections').every((x) => x.labels.generation === '2'), 'gauges of generation 2 only');

  // New generation, new clients: counting goes on from the daemon's totals.
  const fresh = await membersOnBothSlots(s, server, 'metrics-2', 1);
  await chat(fresh, 'third', 2);
  const m5 = await getMetrics(server.port);
  assert.equal(value(m5, 'chatd_messages_in_total'), sent2 + fresh.length * 2);
  t.diagnostic(`messages ${value(m5, 'chatd_messages_in_total')}, deliveries ${value(m5, 'chatd_deliveries_total')}, ` +
    `latency observations ${value(m5, 'chatd_delivery_latency_seconds_count')} (sum ${value(m5, 'chatd_delivery_latency_seconds_sum')} s), ` +
    `Redis PINGs ${value(m5, 'chatd_redis_rtt_seconds_count')}`);

  // A refused reload is counted as such; nothing else changes.
  fs.appendFileSync(server.configPath, '\nworkers: [not, a, number]\n');
  server.signal('SIGHUP');
  await server.waitForLog(/reload refused/, 10_000);
  const m6 = await waitFor(async () => {
    const m = await getMetrics(server.port);
    return value(m, 'chatd_reloads_total', { result: 'refused' }) === 1 && m;
  }, { timeout: 5000, message: 'chatd_reloads_total{result="refused"} 1' });
  assert.equal(value(m6, 'chatd_reloads_total', { result: 'done' }), 1);
  assert.equal(value(m6, 'chatd_messages_in_total'), value(m5, 'chatd_messages_in_total'));

  // The dashboard's queries name only series this /metrics has.
  const names = new Set(m5.samples.map((x) => x.name.replace(/_(bucket|sum|count)$/, '')));
  for (const expr of dashboardExprs()) {
    for (const used of expr.match(/chatd_[a-z_]+/g) || []) {
      assert.ok(names.has(used.replace(/_(bucket|sum|count)$/, '')), `the dashboard's ${used} (in ${expr}) is in /metrics`);
    }
  }
});

function dashboardExprs() {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  const panels = (dash.panels || []).flatMap((p) => [p, ...(p.panels || [])]);
  return panels.flatMap((p) => (p.targets || []).map((x) => x.expr)).filter(Boolean);
}

test('etc/grafana-chatd.json is a Grafana dashboard: valid JSON, titled panels, each with a query', () => {
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  assert.equal(typeof dash.title, 'string');
  assert.ok(Array.isArray(dash.panels) && dash.panels.length >= 6, 'panels');
  const ids = new Set();
  for (const p of dash.panels) {
    assert.ok(!ids.has(p.id), `panel id ${p.id} once`);
    ids.add(p.id);
    assert.ok(p.title && p.type && p.gridPos, `panel ${p.id} has title, type and gridPos`);
    if (p.type !== 'row') assert.ok(p.targets && p.targets.length > 0 && p.targets.every((x) => x.expr), `panel "${p.title}" has queries`);
  }
  const exprs = dashboardExprs().join('\n');
  for (const want of ['histogram_quantile', 'chatd_connections', 'chatd_deliveries_total', 'chatd_delivery_latency_seconds_bucket',
    'chatd_message_size_bytes', 'chatd_redis_up', 'chatd_redis_rtt_seconds', 'chatd_reloads_total', 'chatd_worker_respawns_total']) {
    assert.ok(exprs.includes(want), `a panel queries ${want}`);
  }
});
