'use strict';
// chatd-bench counts correctly: short runs against a real server (chatd with two workers, so
// rooms span workers through Redis; or the reference server with CHATD_TARGET=reference) whose
// summary must show every expected delivery received and no connection failing. Speed is never
// asserted here: only the bookkeeping the benchmark figures rest on.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { scope, chatdBinary, freePort } = require('./lib/harness');

// chatd-bench is built next to chatd: <build>/bench/chatd-bench.
function benchBinary() {
  if (process.env.CHATD_BENCH_BIN) return process.env.CHATD_BENCH_BIN;
  return path.join(path.dirname(chatdBinary()), 'bench', 'chatd-bench');
}
const missing = fs.existsSync(benchBinary()) ? false : `chatd-bench not built (${benchBinary()})`;
const TIMEOUT = { timeout: 120_000, skip: missing };

// Runs chatd-bench with --json --quiet; resolves {code, json, stderr}. Killed if it outlives
// `timeout` (it has its own hard deadline; this is the test's).
function runBench(s, args, { timeout = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(benchBinary(), [...args, '--json', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    s.defer(() => {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let json = null;
      try {
        json = JSON.parse(stdout.trim().split('\n').pop());
      } catch (e) {
        reject(new Error(`chatd-bench (code ${code}, signal ${signal}) printed no JSON: ${stdout}\n${stderr}`));
        return;
      }
      resolve({ code, json, stderr });
    });
  });
}

async function world(t) {
  const s = scope(t);
  const redis = await s.redis();
  // As bench/compare: the generator's ack-driven senders outrun limits.message_rate.
  const server = await s.server({ workers: 2, redisUrl: redis.url, config: { limits: { message_rate: 0 } } });
  return { s, server, url: `127.0.0.1:${server.port}` };
}

test('a paced fan-out over two generator processes receives every expected delivery', TIMEOUT, async (t) => {
  const { s, url } = await world(t);
  const rooms = 6;
  const members = 8;
  const { code, json, stderr } = await runBench(s, [
    '--url', url, '--procs', '2', '--rooms', String(rooms), '--members', String(members),
    '--senders', '2', '--rate', '200', '--warmup', '1', '--duration', '2', '--drain', '2000',
    '--payload', '200',
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(json.mode, 'fanout');
  assert.equal(json.connections_ok, rooms * members, JSON.stringify(json.failures));
  assert.equal(json.connections_failed, 0, JSON.stringify(json.failures));
  assert.equal(json.connections_dropped, 0, JSON.stringify(json.failures));
  assert.ok(json.sent > 0, `some messages are sent: ${JSON.stringify(json)}`);
  // Every room is complete, so each message has members - 1 recipients.
  assert.equal(json.expected, json.sent * (members - 1));
  assert.equal(json.received, json.expected, `loss ${json.loss}: ${JSON.stringify(json)}`);
  assert.equal(json.loss, 0);
  assert.equal(json.latency_ms.count, json.received, 'one latency sample per counted delivery');
});

test('--rate 0 with acknowledgements receives every expected delivery', TIMEOUT, async (t) => {
  const { s, url } = await world(t);
  const members = 5;
  const { code, json, stderr } = await runBench(s, [
    '--url', url, '--rooms', '3', '--members', String(members), '--senders', '1', '--rate', '0',
    '--inflight', '4', '--warmup', '0.5', '--duration', '1', '--drain', '2000',
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(json.connections_failed, 0, JSON.stringify(json.failures));
  assert.ok(json.sent > 0 && json.acks > 0, `messages are sent and acknowledged: ${JSON.stringify(json)}`);
  assert.equal(json.expected, json.sent * (members - 1));
  assert.equal(json.received, json.expected, `loss ${json.loss}: ${JSON.stringify(json)}`);
});

test('an idle run holds every connection to the end', TIMEOUT, async (t) => {
  const { s, url } = await world(t);
  const { code, json, stderr } = await runBench(s, [
    '--url', url, '--idle', '--procs', '2', '--rooms', '10', '--members', '20',
    '--source-addrs', '127.0.0.1-127.0.0.4', '--duration', '1',
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(json.mode, 'idle');
  assert.equal(json.connections_ok, 200, JSON.stringify(json.failures));
  assert.equal(json.connections_at_end, 200);
  assert.equal(json.connections_failed, 0);
});

test('connections to a port nobody listens on are counted as failed, with the reason', TIMEOUT, async (t) => {
  const s = scope(t);
  const port = await freePort();
  const { json } = await runBench(s, [
    '--url', `127.0.0.1:${port}`, '--rooms', '2', '--members', '3', '--warmup', '0',
    '--duration', '0', '--drain', '0',
  ]);
  assert.equal(json.connections_ok, 0);
  assert.equal(json.connections_failed, 6);
  assert.deepEqual(json.failures, { 'tcp connect: ECONNREFUSED': 6 });
  assert.equal(json.sent, 0);
  assert.equal(json.expected, 0);
});
