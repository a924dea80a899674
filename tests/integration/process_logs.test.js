'use strict';
// Log lines: log.level and log.format take effect on SIGHUP in the master and in the new
// generation of workers (and back again); under systemd (stderr is the stream JOURNAL_STREAM
// names) every line opens with its sd-daemon priority and text lines carry no time, while a
// JOURNAL_STREAM naming another stream changes nothing.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {
  scope, waitFor, sleep, httpRequest, freePort, isReference, makeTempDir, toYaml, spawnLogged,
  makeServer, waitReady, chatdBinary,
} = require('./lib/harness');
const { liveWorkers, masterWorkers } = require('./lib/process');

const skip = isReference ? 'log lines are chatd\'s own' : false;

const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) (master|worker \d+)\[(\d+)\]: /;
const JOURNAL_TEXT_LINE = /^<([3467])>(debug|info|warn|error) (master|worker \d+)\[(\d+)\]: /;
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const PRIORITY = { error: '3', warn: '4', info: '6', debug: '7' };
// A worker logs it at debug for each request it refuses (here: heads over limits.max_header_size).
const BAD_HEAD = /bad HTTP request: /;

// Replaces `key: value` lines of the harness-written config.
function editConfig(configPath, edits) {
  let text = fs.readFileSync(configPath, 'utf8');
  for (const [pattern, replacement] of edits) {
    assert.ok(pattern.test(text), `config has ${pattern}:\n${text}`);
    text = text.replace(pattern, replacement);
  }
  fs.writeFileSync(configPath, text);
}

// A JSON log line (after an optional journal prefix) as an object with its key order; null if
// the line is not one.
function parseJson(line) {
  const m = /^(<\d>)?(\{.*\})$/.exec(line);
  if (!m) return null;
  const obj = JSON.parse(m[2]);
  return { prefix: m[1] || '', obj, keys: Object.keys(obj) };
}

function checkJsonLine(line, { journal = false } = {}) {
  const j = parseJson(line);
  assert.ok(j, `a JSON line: ${line}`);
  const { obj, keys } = j;
  const want = obj.role === 'worker' ? ['ts', 'level', 'pid', 'role', 'slot', 'msg'] : ['ts', 'level', 'pid', 'role', 'msg'];
  assert.deepEqual(keys, want, `keys in order: ${line}`);
  assert.match(obj.ts, TS);
  assert.ok(['debug', 'info', 'warn', 'error'].includes(obj.level), line);
  assert.ok(Number.isInteger(obj.pid) && obj.pid > 0, line);
  assert.ok(['master', 'worker'].includes(obj.role), line);
  assert.equal(typeof obj.msg, 'string');
  assert.equal(j.prefix, journal ? `<${PRIORITY[obj.level]}>` : '', `priority prefix: ${line}`);
  return obj;
}

// Requests with a head over max_header_size (8192 by default): each is answered 431 by a worker.
async function badHeads(port, n = 4) {
  for (let i = 0; i < n; i++) {
    const res = await httpRequest(port, { path: '/healthz', headers: { 'x-big': 'a'.repeat(10000) } }).catch((e) => ({ error: e }));
    if (res.status !== undefined) assert.equal(res.status, 431);
  }
}

async function onlyGeneration(server, generation) {
  await waitFor(() => {
    const live = liveWorkers(server);
    return live.length > 0 && live.every((w) => w.generation === generation) &&
      server.workerPids().length === live.length;
  }, { timeout: 15_000, message: () => `only generation ${generation} workers left: ${JSON.stringify(liveWorkers(server))}` });
}

function pidsOf(server, generation) {
  return new Set([...masterWorkers(server)].filter(([, w]) => w.generation === generation).map(([pid]) => pid));
}

test('SIGHUP applies log.level and log.format to the master and the new workers, and back again', { timeout: 120_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  // JOURNAL_STREAM naming some other stream (stderr here is a pipe): lines stay as they are.
  const server = await s.chatd({
    workers: 2,
    redisUrl: redis.url,
    config: { log: { level: 'info', format: 'text' } },
    env: { JOURNAL_STREAM: '1:1' },
  });
  await server.waitForLog(/all 2 workers ready/);

  // Generation 1: info, text. Connection detail stays out.
  await badHeads(server.port);
  await sleep(300);
  assert.deepEqual(server.logs.filter((l) => !TEXT_LINE.test(l)), [], 'every line is a text line with its time');
  assert.deepEqual(server.logs.filter((l) => BAD_HEAD.test(l)), [], 'no debug line at info');
  assert.ok(server.logs.some((l) => / worker 1\[\d+\]: accepting on fd/.test(l)), 'workers name their slot');

  // Generation 2: debug, json.
  editConfig(server.configPath, [[/level: "info"/, 'level: "debug"'], [/format: "text"/, 'format: "json"']]);
  let from = server.logs.length;
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 15_000);
  await onlyGeneration(server, 2);
  const gen2 = pidsOf(server, 2);
  assert.equal(gen2.size, 2);
  // The master switches as soon as the new config is committed: its first line after the
  // "reloading" one is JSON already.
  const afterReload = server.logs.slice(from);
  const reloading = afterReload.findIndex((l) => /reloading: reading/.test(l));
  assert.ok(reloading >= 0, 'the master logged the reload');
  assert.match(afterReload[reloading], TEXT_LINE, 'the line before the commit is still text');
  const masterJson = afterReload.slice(reloading + 1).filter((l) => parseJson(l)?.obj.role === 'master');
  assert.ok(masterJson.some((l) => /reload: generation 2 starting/.test(l)), afterReload.join('\n'));
  for (const l of masterJson) checkJsonLine(l);
  const masterDebug = masterJson.map((l) => parseJson(l).obj).filter((o) => o.level === 'debug');
  assert.ok(masterDebug.some((o) => /^status: /.test(o.msg)), `the master logs at debug: ${masterJson.join('\n')}`);
  // Every line of a generation-2 worker is JSON, with its slot.
  // (A worker reports ready before it logs "accepting": the lines may follow "reload done".)
  const gen2Accepting = () => server.logs.filter((l) => gen2.has(parseJson(l)?.obj.pid))
    .map((l) => checkJsonLine(l)).filter((o) => /^accepting on fd/.test(o.msg));
  await waitFor(() => gen2Accepting().length === 2, { message: 'both generation-2 workers to log "accepting"' });
  assert.deepEqual(gen2Accepting().map((o) => o.slot).sort(), [0, 1], 'one "accepting" line per slot');
  assert.deepEqual(server.logs.slice(from).filter((l) => gen2.has(Number((TEXT_LINE.exec(l) || [])[3]))), [],
    'no text line from a generation-2 worker');
  // Connection detail at debug, from the new workers.
  from = server.logs.length;
  await badHeads(server.port);
  await waitFor(() => server.logs.slice(from).some((l) => BAD_HEAD.test(l)), { message: 'a debug line for a bad head' });
  for (const l of server.logs.slice(from).filter((x) => BAD_HEAD.test(x))) {
    const o = checkJsonLine(l);
    assert.equal(o.level, 'debug');
    assert.equal(o.role, 'worker');
    assert.ok(gen2.has(o.pid), `from a generation-2 worker: ${l}`);
  }

  // Generation 3: back to info, text.
  editConfig(server.configPath, [[/level: "debug"/, 'level: "info"'], [/format: "json"/, 'format: "text"']]);
  from = server.logs.length;
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 3 serving/, 15_000);
  await onlyGeneration(server, 3);
  const gen3 = pidsOf(server, 3);
  const done = server.logs.findIndex((l, i) => i >= from && /reload done: generation 3 serving/.test(l));
  assert.match(server.logs[done], TEXT_LINE, 'the master writes text again');
  const gen3Accepting = () => server.logs.slice(from)
    .filter((l) => gen3.has(Number((TEXT_LINE.exec(l) || [])[3])) && /accepting on fd/.test(l));
  await waitFor(() => gen3Accepting().length === 2, { message: 'generation-3 workers to log "accepting" in text' });
  from = server.logs.length;
  await badHeads(server.port);
  await sleep(300);
  const later = server.logs.slice(from);
  assert.deepEqual(later.filter((l) => BAD_HEAD.test(l)), [], 'no debug line at info again');
  assert.deepEqual(later.filter((l) => !TEXT_LINE.test(l)), [], 'text lines only');
});

// chatd started through sh, which sets JOURNAL_STREAM to its own stderr (the harness's pipe)
// just as systemd does for a unit whose StandardError is the journal.
async function startUnderJournal(s, redisUrl, log) {
  const port = await freePort();
  const tmpDir = makeTempDir('chatd-it-');
  const configPath = path.join(tmpDir, 'chatd.yaml');
  fs.writeFileSync(configPath, toYaml({
    listen: { address: '127.0.0.1', port }, workers: 1, redis: { url: redisUrl }, shutdown_timeout: 2000, log,
  }));
  const script = 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) && export JOURNAL_STREAM && exec "$0" --config "$1"';
  const proc = spawnLogged('chatd', '/bin/sh', ['-c', script, chatdBinary(), configPath]);
  const server = makeServer('chatd', proc, { port, configPath, tmpDir });
  s.defer(() => server.cleanup());
  await waitReady(server, proc, { workers: 1, readyTimeout: 15_000, label: 'chatd under JOURNAL_STREAM' });
  return server;
}

test('under the journal each line opens with its priority and text lines carry no time; json lines keep the prefix', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await startUnderJournal(s, redis.url, { level: 'debug', format: 'text' });
  await server.waitForLog(/all 1 workers ready/);
  await badHeads(server.port, 1);
  await waitFor(() => server.logs.some((l) => BAD_HEAD.test(l)), { message: 'a debug line for a bad head' });
  for (const l of server.logs) {
    const m = JOURNAL_TEXT_LINE.exec(l);
    assert.ok(m, `a journal text line: ${l}`);
    assert.equal(m[1], PRIORITY[m[2]], `the priority of ${m[2]}: ${l}`);
  }
  assert.match(server.logs.find((l) => /chatd .* starting/.test(l)), /^<6>info master\[\d+\]: chatd /);
  assert.match(server.logs.find((l) => BAD_HEAD.test(l)), /^<7>debug worker 0\[\d+\]: bad HTTP request/);

  editConfig(server.configPath, [[/format: "text"/, 'format: "json"']]);
  const from = server.logs.length;
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2 serving/, 15_000);
  const jsonLines = server.logs.slice(from).filter((l) => /^<\d>\{/.test(l));
  assert.ok(jsonLines.length >= 3, server.logs.slice(from).join('\n'));
  for (const l of jsonLines) checkJsonLine(l, { journal: true });
});
