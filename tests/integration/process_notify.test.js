'use strict';
// The sd_notify sequence the master sends, read from a NOTIFY_SOCKET the test owns: READY=1 once
// every worker accepts, RELOADING=1 with MONOTONIC_USEC then READY=1 around a reload, nothing for
// a refused reload, STOPPING=1 on SIGTERM; STATUS= lines with workers and connections; and every
// message from the master's pid (workers report to the master, never to systemd).
//
// Node has no Unix datagram sockets, so a few lines of python3 bind the socket and print each
// datagram with its sender's pid (SO_PASSCRED) as one JSON line.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { scope, waitFor, isReference } = require('./lib/harness');

const RECEIVER = `
import json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"pid": pid, "text": data.decode("utf-8", "replace")}), flush=True)
`;

function findPython() {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/bin'])) {
    const candidate = path.join(dir, 'python3');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

const python = findPython();
const skip = isReference ? 'sd_notify is chatd\'s own'
  : (python ? false : 'python3 is needed to read a Unix datagram socket');

// Starts the receiver; resolves with {path, messages} once it listens. messages: [{pid, text,
// fields: Map}] in arrival order.
async function notifySocket(s) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-notify-'));
  const socketPath = path.join(dir, 'notify.sock');
  const child = spawn(python, ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages = [];
  let listening = false;
  let stderr = '';
  let buf = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (msg.listening) {
        listening = true;
        continue;
      }
      msg.fields = new Map(msg.text.split('\n').filter(Boolean).map((l) => {
        const eq = l.indexOf('=');
        return [l.slice(0, eq), l.slice(eq + 1)];
      }));
      messages.push(msg);
    }
  });
  s.defer(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => listening || child.exitCode !== null, { message: 'the notify receiver to bind' });
  assert.ok(listening, `notify receiver failed: ${stderr}`);
  return { path: socketPath, messages };
}

const monotonicUsec = () => process.hrtime.bigint() / 1000n; // CLOCK_MONOTONIC, as systemd wants
// The messages that are not only a STATUS= update, as "READY=1" / "RELOADING=1" / "STOPPING=1".
const states = (messages) => messages
  .map((m) => ['READY', 'RELOADING', 'STOPPING'].find((k) => m.fields.get(k) === '1'))
  .filter(Boolean);

test('sd_notify: READY=1 when all workers accept, RELOADING=1 + MONOTONIC_USEC then READY=1 on reload, STOPPING=1 on stop', { timeout: 60_000, skip }, async (t) => {
  const s = scope(t);
  const notify = await notifySocket(s);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url, env: { NOTIFY_SOCKET: notify.path } });

  await waitFor(() => states(notify.messages).includes('READY'), { message: () => `READY=1; got ${JSON.stringify(notify.messages.map((m) => m.text))}` });
  await server.waitForLog(/all 2 workers ready/);
  assert.deepEqual(states(notify.messages), ['READY']);
  const ready = notify.messages.find((m) => m.fields.get('READY') === '1');
  assert.match(ready.fields.get('STATUS'), /^2 of 2 workers ready, \d+ connections/);
  // READY=1 came after both workers said they accept.
  const readyLines = server.logs.filter((l) => /worker \d ready: pid/.test(l));
  assert.equal(readyLines.length, 2, `both workers reported ready before READY=1:\n${server.logTail(20)}`);

  // A good reload.
  const before = monotonicUsec();
  server.signal('SIGHUP');
  await server.waitForLog(/reload done: generation 2/);
  await waitFor(() => states(notify.messages).length >= 3, { message: () => `READY=1 after the reload; got ${JSON.stringify(notify.messages.map((m) => m.text))}` });
  const after = monotonicUsec();
  assert.deepEqual(states(notify.messages), ['READY', 'RELOADING', 'READY']);
  const reloading = notify.messages.find((m) => m.fields.get('RELOADING') === '1');
  const usec = BigInt(reloading.fields.get('MONOTONIC_USEC'));
  assert.ok(usec >= before && usec <= after, `MONOTONIC_USEC ${usec} within [${before}, ${after}]`);

  // A refused reload says nothing to systemd: the service never left its state.
  fs.writeFileSync(server.configPath, `${fs.readFileSync(server.configPath, 'utf8')}bogus_key: 1\n`);
  server.signal('SIGHUP');
  await server.waitForLog(/reload refused: /);

  // Stop.
  const stopped = await server.stop({ timeout: 20_000 });
  assert.equal(stopped.code, 0, `exit status 0: ${JSON.stringify(stopped)}\n${server.logTail(20)}`);
  assert.deepEqual(states(notify.messages), ['READY', 'RELOADING', 'READY', 'STOPPING']);

  for (const m of notify.messages) {
    assert.equal(m.pid, server.pid, `sent by the master (pid ${server.pid}), not pid ${m.pid}: ${m.text}`);
    assert.ok(m.fields.has('STATUS'), `each message carries a STATUS=: ${m.text}`);
    assert.match(m.fields.get('STATUS'), /workers.*connections/);
  }
});
