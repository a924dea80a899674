'use strict';
/*
 * Integration-test harness: real processes (redis-server, chatd or the reference Node server) on
 * free loopback ports, real socket.io-client 4.x clients, and helpers that wait with clear messages.
 * It exists so every integration test starts, drives and stops its world the same way, and so the
 * same tests can run against the reference server (CHATD_TARGET=reference) to prove they test the
 * seed's behaviour and not just whatever chatd happens to do.
 *
 * Environment
 *   CHATD_BIN         chatd binary (CTest sets it; by hand it defaults to <repo>/build/chatd, then
 *                     <repo>/build-tests/chatd, whichever exists)
 *   CHATD_SOURCE_DIR  repository root (CTest sets it; defaults to ../../.. from this file)
 *   CHATD_TARGET      "chatd" (default) or "reference": startServer() then starts
 *                     tests/reference/seed-server.js (the seed's gateway in plain Socket.IO 4)
 *   CHATD_IT_VERBOSE  "1": echo every server/redis log line to stderr as it arrives
 *   REDIS_SERVER      redis-server binary (default /usr/bin/redis-server)
 *
 * Processes
 *   freePort() -> Promise<number>                 a currently free TCP port on 127.0.0.1
 *   makeTempDir(prefix) -> path                    a new directory under $TMPDIR, removed at exit
 *   startRedis({port, netns}) -> Promise<Redis>    redis-server on 127.0.0.1 (--save "" --appendonly
 *       no), resolved once PING answers; `netns` (a ./netns.js host): in its namespace, on its IP.
 *       Redis: {host, port, url, pid, logs, stop(), kill() (SIGKILL),
 *       restart() (same port; after kill/stop), command(...args) -> Promise<reply>} (a Buffer
 *       argument is sent byte for byte)
 *   spawnLogged(label, cmd, args, {env, cwd, ipc, netns}) -> Proc   any other child process, remembered
 *       and killed by PID at exit like the servers: {child, logs, exited, whenExited(),
 *       waitForLog(regex, timeout), stop({timeout, signal}), logTail(n)}; `ipc` adds a Node IPC
 *       channel (advanced serialization). The Node peer of the fleet tests uses it (./node_peer.js).
 *       `netns` (a namespace name) runs it inside that network namespace (`ip netns exec`).
 *   startChatd({workers, port, redisUrl, config, args, env, readyTimeout, netns}) -> Promise<Server>
 *       writes a temporary YAML config (listen 127.0.0.1:port, workers, redis.url,
 *       shutdown_timeout 2000, recovery.enabled false, log.level info, deep-merged with `config`, e.g.
 *       {engineio: {ping_interval: 300}}; keys as in etc/chatd.yaml, durations in ms),
 *       spawns CHATD_BIN --config FILE ...args,
 *       resolves once the port accepts, GET /healthz answers 200 and (for workers > 1) every
 *       worker process exists. `netns`: a host of ./netns.js ({netns, ip, label}): chatd runs in
 *       its namespace and listens on its IP (server.url then names that IP).
 *   makeServer(kind, proc, {port, host, ...}) / waitReady(server, proc, {workers, readyTimeout,
 *       label})   the Server object and the readiness wait above, for other servers (./cluster_hosts.js)
 *   startReference({...same options}) -> Promise<Server>   the reference server; `config` keys it
 *       understands (engineio.ping_interval/ping_timeout/max_payload, transports) become flags.
 *   startServer(opts) -> Promise<Server>           startChatd or startReference per CHATD_TARGET.
 *   Server: {kind: "chatd"|"reference", host, port, url, pid, logs (array of lines), configPath,
 *       waitForLog(regex, timeout) -> Promise<line>, stop({timeout}) (SIGTERM, then SIGKILL after
 *       the timeout) -> Promise<{code, signal, forced}>, kill() (SIGKILL), signal(name),
 *       workerPids() -> number[] (children of the master), exited (null or {code, signal}),
 *       logTail(n) -> string}
 *
 * Scope (use this in tests: everything it starts is stopped in t.after, even on failure, and a
 *   server that exited without the test asking for it (stop(), kill(), or signal() with SIGTERM,
 *   SIGINT, SIGQUIT or SIGKILL) fails the test with the tail of its log, as does a server (master
 *   or any worker) that logged a sanitizer report; a report from any spawned process also makes
 *   the test process exit non-zero)
 *   const s = scope(t);
 *   s.redis(opts), s.server(opts), s.chatd(opts), s.reference(opts)   as above, tracked
 *   s.client(url, opts) -> Promise<Socket>          connectClient, tracked
 *   s.track(closeable)                              anything with close()/destroy()/stop()
 *   s.defer(fn)                                     run fn at cleanup (LIFO)
 *
 * Clients (socket.io-client)
 *   connectClient(url, {channel, userId, query, auth, namespace, transports: ['websocket'],
 *       timeout, reconnection: false, ...io options}) -> Promise<Socket> (rejects with the
 *       connect_error, whose .message is the server's)
 *   expectConnectError(url, opts) -> Promise<Error>  the connect_error of a client that must
 *       not connect (fails if it connects)
 *   collect(socket, event) -> Collector {items (first argument of each event), args (all
 *       arguments), count(pred), waitCount(n, {timeout, label}), waitFor(pred, {timeout, label}),
 *       clear()}; collectAny(socket) records every event as {event, args}
 *
 * Waiting
 *   waitFor(predicate, {timeout, interval, message}) -> Promise<value>  polls a (possibly async)
 *       predicate until it returns a truthy value; on timeout rejects with `message` (a string or
 *       a function returning one) so failures say what was expected and what was seen.
 *   withTimeout(promise, ms, what (string or function)), sleep(ms), settle() (a short grace before asserting that
 *       something did NOT happen; never used to assert that something did)
 *   plainData(v) -> v with every Buffer/ArrayBuffer/typed array as {bytes: hex}, for deepEqual
 *
 * Raw wire access (exact bytes, malformed frames, a client that never pongs): see ./rawws.js.
 *
 * HTTP
 *   httpRequest(port, {method, path, headers, body, timeout, localAddress}) -> {status, headers, body}
 *       (localAddress: a 127.0.0.x source address, for per-IP limits)
 *   getMetrics(port) -> {status, text, samples: [{name, labels, value}]}
 */

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const SOURCE_DIR = process.env.CHATD_SOURCE_DIR || path.resolve(__dirname, '..', '..', '..');
const TARGET = (process.env.CHATD_TARGET || 'chatd').toLowerCase();
const VERBOSE = process.env.CHATD_IT_VERBOSE === '1';
const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';
const REFERENCE_SERVER = path.join(SOURCE_DIR, 'tests', 'reference', 'seed-server.js');
const SETTLE_MS = 300;

if (TARGET !== 'chatd' && TARGET !== 'reference') {
  throw new Error(`CHATD_TARGET must be "chatd" or "reference", not "${TARGET}"`);
}
const isReference = TARGET === 'reference';

// ---------------------------------------------------------------------------------------------
// Small utilities

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const settle = () => sleep(SETTLE_MS);

function describeValue(v, max = 300) {
  let s;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  if (s === undefined) s = String(v);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

async function waitFor(predicate, { timeout = 5000, interval = 10, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const text = typeof message === 'function' ? message() : message;
      const err = new Error(`timed out after ${timeout} ms waiting for: ${text}` +
        (lastError ? ` (last error: ${lastError.message})` : ''));
      throw err;
    }
    await sleep(interval);
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof what === 'function' ? what() : what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// socket.io-client gives Buffers back (Node), Uint8Arrays over IPC: plain data with every byte
// view spelled out as {bytes: hex}, for deepEqual across both.
function plainData(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { bytes: (v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toString('hex') };
  }
  if (Array.isArray(v)) return v.map(plainData);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainData(x)]));
  return v;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function portAccepts(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Child processes: every one we spawn is remembered so that it is killed (by PID) even if the
// test process dies between start and stop.

const liveChildren = new Set();

// Sanitizer reports (a chatd built with -DCHATD_SANITIZE=ON, see tests/run-all.sh): any line of
// any process spawned here that starts an AddressSanitizer, LeakSanitizer or UBSan report. A
// report in a worker does not end the master (it respawns the worker), so the output is what
// tells: the scope fails the test whose server logged one, and the test process exits non-zero
// if any was seen at all, whoever logged it.
const SANITIZER_REPORT = /==\d+==ERROR: (Address|Leak)Sanitizer|: runtime error: |SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer/;
const sanitizerReports = [];
process.on('exit', () => {
  if (!sanitizerReports.length) return;
  process.stderr.write(`sanitizer reports (${sanitizerReports.length} lines):\n` +
    `${sanitizerReports.map((r) => `  [${r.label} ${r.pid}] ${r.line}`).join('\n')}\n`);
  process.exitCode = 1;
});
const tempDirs = new Set(); // removed at exit even when a test forgot to clean up
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function makeTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// Spawns `cmd args`, captures stdout and stderr line by line into `logs`, and reports the exit.
// With `ipc` (cmd must be node), the child also gets an IPC channel (child.send / 'message') with
// the "advanced" serialization, so Buffers and Maps travel as they are.
function spawnLogged(label, cmd, args, { env, cwd, ipc = false, netns } = {}) {
  // `ip netns exec` enters the namespace and execs the command: the child's PID is the command's.
  if (netns) [cmd, args] = ['ip', ['netns', 'exec', netns, cmd, ...args]];
  const child = spawn(cmd, args, {
    cwd: cwd || SOURCE_DIR,
    env: { ...process.env, ...(env || {}) },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    ...(ipc ? { serialization: 'advanced' } : {}),
  });
  const logs = [];
  const logWaiters = new Set();
  let exited = null;
  const exitWaiters = [];
  liveChildren.add(child);

  const reports = [];
  const onLine = (line) => {
    logs.push(line);
    if (SANITIZER_REPORT.test(line)) {
      reports.push(line);
      sanitizerReports.push({ label, pid: child.pid, line });
    }
    if (VERBOSE) process.stderr.write(`[${label} ${child.pid}] ${line}\n`);
    for (const w of [...logWaiters]) {
      if (w.regex.test(line)) {
        logWaiters.delete(w);
        w.resolve(line);
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    stream.on('end', () => {
      if (buf) onLine(buf);
      buf = '';
    });
  }
  const spawnError = new Promise((resolve) => child.once('error', resolve));
  child.once('exit', (code, signal) => {
    exited = { code, signal };
    liveChildren.delete(child);
    for (const w of exitWaiters.splice(0)) w(exited);
    for (const w of [...logWaiters]) {
      logWaiters.delete(w);
      w.reject(new Error(`${label} exited (code ${code}, signal ${signal}) before logging ${w.regex}`));
    }
  });
  child.once('error', (e) => {
    if (!exited) {
      exited = { code: null, signal: null, error: e };
      liveChildren.delete(child);
      for (const w of exitWaiters.splice(0)) w(exited);
    }
  });

  return {
    child,
    logs,
    sanitizerReports: reports,
    spawnError,
    get exited() {
      return exited;
    },
    whenExited() {
      return exited ? Promise.resolve(exited) : new Promise((resolve) => exitWaiters.push(resolve));
    },
    waitForLog(regex, timeout = 5000) {
      const found = logs.find((l) => regex.test(l));
      if (found !== undefined) return Promise.resolve(found);
      if (exited) return Promise.reject(new Error(`${label} has exited; no log line matches ${regex}`));
      let entry;
      const p = new Promise((resolve, reject) => {
        entry = { regex, resolve, reject };
        logWaiters.add(entry);
      });
      return withTimeout(p, timeout, `${label} log line matching ${regex}`).finally(() => logWaiters.delete(entry));
    },
    async stop({ timeout = 5000, signal = 'SIGTERM' } = {}) {
      if (exited) return { ...exited, forced: false, alreadyExited: true };
      try {
        process.kill(child.pid, signal);
      } catch {
        // raced with its exit
      }
      let timer;
      const first = await Promise.race([
        this.whenExited(),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(null), timeout);
        }),
      ]).finally(() => clearTimeout(timer));
      if (first) return { ...first, forced: false };
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // raced with its exit
      }
      const second = await this.whenExited();
      return { ...second, forced: true };
    },
    logTail(n = 40) {
      return logs.slice(-n).join('\n');
    },
  };
}

// PIDs of the direct children of `pid`: /proc/<pid>/task/*/children when the kernel has it, else
// a scan of /proc/*/stat for the parent pid.
function childPids(pid) {
  const out = new Set();
  let haveChildrenFile = false;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const file = `/proc/${pid}/task/${tid}/children`;
      if (!fs.existsSync(file)) continue;
      haveChildrenFile = true;
      for (const s of fs.readFileSync(file, 'utf8').trim().split(/\s+/)) if (s) out.add(Number(s));
    }
  } catch {
    return [];
  }
  if (!haveChildrenFile) {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        // the command may contain spaces and parentheses: fields start after the last ')'
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === pid) out.add(Number(name));
      } catch {
        // raced with its exit
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Redis

// Sends one command in RESP and returns the parsed reply (errors become Error objects).
function redisCommand(port, args, { host = '127.0.0.1', timeout = 1000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    let buf = Buffer.alloc(0);
    const fail = (e) => {
      sock.destroy();
      reject(e);
    };
    sock.setTimeout(timeout, () => fail(new Error(`redis ${host}:${port} ${args[0]}: timeout`)));
    sock.on('error', fail);
    sock.on('connect', () => {
      // Buffers go as they are (binary-safe), anything else as its String().
      const parts = [Buffer.from(`*${args.length}\r\n`)];
      for (const a of args) {
        const bytes = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
        parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
      }
      sock.write(Buffer.concat(parts));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parseResp(buf, 0);
      if (parsed) {
        sock.destroy();
        resolve(parsed.value);
      }
    });
  });
}

// Minimal RESP2 parser: returns {value, end} or null when incomplete.
function parseResp(buf, pos) {
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return null;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const arr = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const item = parseResp(buf, p);
        if (!item) return null;
        arr.push(item.value);
        p = item.end;
      }
      return { value: arr, end: p };
    }
    default:
      return { value: new Error(`unparsable RESP type ${type}`), end: buf.length };
  }
}

async function redisPings(port, host = '127.0.0.1') {
  try {
    return (await redisCommand(port, ['PING'], { host, timeout: 500 })) === 'PONG';
  } catch {
    return false;
  }
}

async function startRedis({ port, readyTimeout = 10000, netns } = {}) {
  port = port || (await freePort());
  const host = netns ? netns.ip : '127.0.0.1';
  const dir = makeTempDir('chatd-it-redis-');
  let proc = null;
  const logs = [];

  async function launch() {
    if (await portAccepts(port, host)) throw new Error(`cannot start redis-server: port ${port} is in use`);
    proc = spawnLogged(netns ? `redis@${netns.label}` : 'redis', REDIS_SERVER, [
      '--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning',
    ], { netns: netns && netns.netns });
    proc.logs = logs; // one log across restarts
    await waitFor(async () => {
      if (proc.exited) throw new Error(`redis-server exited: ${JSON.stringify(proc.exited)}\n${logs.join('\n')}`);
      return redisPings(port, host);
    }, { timeout: readyTimeout, interval: 20, message: `redis-server on ${host}:${port} to answer PING` });
  }
  await launch();

  const redis = {
    host,
    port,
    url: `redis://${host}:${port}`,
    logs,
    get pid() {
      return proc && !proc.exited ? proc.child.pid : null;
    },
    get running() {
      return Boolean(proc && !proc.exited);
    },
    async stop() {
      if (proc) await proc.stop({ timeout: 5000 });
    },
    async kill() {
      if (proc) await proc.stop({ signal: 'SIGKILL', timeout: 5000 });
    },
    async restart() {
      if (proc && !proc.exited) await proc.stop({ timeout: 5000 });
      await launch();
    },
    command(...args) {
      return redisCommand(port, args, { host });
    },
    async cleanup() {
      await redis.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return redis;
}

// ---------------------------------------------------------------------------------------------
// HTTP

function httpRequest(port, { method = 'GET', path: reqPath = '/', headers = {}, body, timeout = 5000, host = '127.0.0.1', agent = false, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: reqPath, headers, agent, localAddress }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`HTTP ${method} ${reqPath} on port ${port}: no answer within ${timeout} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Prometheus text format: `name{label="v",...} value` lines; comments skipped.
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2];
    }
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

async function getMetrics(port, opts = {}) {
  const res = await httpRequest(port, { path: '/metrics', ...opts });
  return { status: res.status, text: res.body, samples: res.status === 200 ? parseMetrics(res.body) : [] };
}

// ---------------------------------------------------------------------------------------------
// Servers: chatd and the reference

function chatdBinary() {
  if (process.env.CHATD_BIN) return process.env.CHATD_BIN;
  for (const dir of ['build', 'build-tests']) {
    const candidate = path.join(SOURCE_DIR, dir, 'chatd');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('no chatd binary: set CHATD_BIN (CTest does) or build into <repo>/build');
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepMerge(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over || {})) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k], v) : v;
  }
  return out;
}

// YAML for the subset we write: nested maps, lists of scalars, strings (as JSON strings, which
// are valid YAML double-quoted scalars), numbers, booleans, null.
function toYaml(obj, indent = '') {
  let out = '';
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (isPlainObject(v)) {
      out += `${indent}${k}:\n${toYaml(v, `${indent}  `)}`;
    } else if (Array.isArray(v)) {
      out += v.length === 0 ? `${indent}${k}: []\n` : `${indent}${k}:\n${v.map((x) => `${indent}  - ${yamlScalar(x)}\n`).join('')}`;
    } else {
      out += `${indent}${k}: ${yamlScalar(v)}\n`;
    }
  }
  return out;
}

function yamlScalar(v) {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function makeServer(kind, proc, { port, configPath, tmpDir, host = '127.0.0.1' }) {
  return {
    kind,
    host,
    port,
    url: `http://${host}:${port}`,
    configPath,
    logs: proc.logs,
    sanitizerReports: proc.sanitizerReports,
    get pid() {
      return proc.child.pid;
    },
    get exited() {
      return proc.exited;
    },
    waitForLog: (regex, timeout) => proc.waitForLog(regex, timeout),
    logTail: (n) => proc.logTail(n),
    whenExited: () => proc.whenExited(),
    stop: (opts) => proc.stop(opts),
    kill: () => proc.stop({ signal: 'SIGKILL' }),
    signal(name) {
      process.kill(proc.child.pid, name);
    },
    workerPids() {
      return proc.exited ? [] : childPids(proc.child.pid);
    },
    async cleanup() {
      // Workers are remembered first: if the master has to be killed, they are killed too.
      const workers = proc.exited ? [] : childPids(proc.child.pid);
      const result = await proc.stop({ timeout: 5000 });
      if (result.forced) {
        for (const pid of workers) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
      return result;
    },
  };
}

async function waitReady(server, proc, { workers, readyTimeout, label }) {
  const startError = await Promise.race([proc.spawnError, sleep(0).then(() => null)]);
  if (startError) throw new Error(`${label}: cannot start: ${startError.message}`);
  await waitFor(async () => {
    if (proc.exited) {
      throw new Error(`${label} exited during start-up (code ${proc.exited.code}, signal ${proc.exited.signal})`);
    }
    if (!(await portAccepts(server.port, server.host))) return false;
    const res = await httpRequest(server.port, { host: server.host, path: '/healthz', timeout: 1000 });
    if (res.status !== 200) return false;
    return workers > 1 ? server.workerPids().length >= workers : true;
  }, {
    timeout: readyTimeout,
    interval: 50,
    message: () => `${label} on ${server.host}:${server.port} to accept and answer GET /healthz 200` +
      (workers > 1 ? ` with ${workers} workers (have ${server.workerPids().length})` : '') +
      `; log tail:\n${proc.logTail(30)}`,
  }).catch(async (e) => {
    await proc.stop({ timeout: 2000 });
    throw e;
  });
}

async function startChatd({ workers = 1, port, redisUrl = 'redis://127.0.0.1:6379', config = {}, args = [], env = {}, readyTimeout = 15000, netns } = {}) {
  const host = netns ? netns.ip : '127.0.0.1';
  port = port || (await freePort());
  const tmpDir = makeTempDir('chatd-it-');
  const configPath = path.join(tmpDir, 'chatd.yaml');
  const { transports, ...chatdConfig } = config; // `transports` is a reference-only knob
  void transports;
  const merged = deepMerge({
    listen: { address: host, port },
    workers,
    redis: { url: redisUrl },
    // Tests do not wait for drains: a short grace keeps every stop quick. Tests of the graceful
    // stop set their own.
    shutdown_timeout: 2000,
    // The seed's wire exactly (no pid, no offset argument), as the reference server speaks it:
    // tests of connection state recovery turn it on.
    recovery: { enabled: false },
    log: { level: 'info' },
  }, chatdConfig);
  fs.writeFileSync(configPath, `# written by tests/integration/lib/harness.js\n${toYaml(merged)}`);
  const proc = spawnLogged(netns ? `chatd@${netns.label}` : 'chatd', chatdBinary(), ['--config', configPath, ...args],
    { env, netns: netns && netns.netns });
  const server = makeServer('chatd', proc, { port, configPath, tmpDir, host });
  await waitReady(server, proc, { workers, readyTimeout, label: `chatd (${chatdBinary()})` });
  return server;
}

async function startReference({ workers = 1, port, redisUrl = 'redis://127.0.0.1:6379', config = {}, args = [], env = {}, readyTimeout = 15000 } = {}) {
  port = port || (await freePort());
  const flags = ['--host', '127.0.0.1', '--port', String(port), '--redis', redisUrl, '--workers', String(workers)];
  const eio = config.engineio || {};
  if (eio.ping_interval !== undefined) flags.push('--ping-interval', String(eio.ping_interval));
  if (eio.ping_timeout !== undefined) flags.push('--ping-timeout', String(eio.ping_timeout));
  if (eio.max_payload !== undefined) flags.push('--max-payload', String(eio.max_payload));
  if (config.transports) flags.push('--transports', config.transports.join(','));
  const proc = spawnLogged('reference', process.execPath, [REFERENCE_SERVER, ...flags, ...args], { env });
  const server = makeServer('reference', proc, { port });
  await waitReady(server, proc, { workers, readyTimeout, label: 'reference server' });
  if (workers > 1) await proc.waitForLog(/all \d+ workers listening/, readyTimeout);
  return server;
}

function startServer(opts) {
  return isReference ? startReference(opts) : startChatd(opts);
}

// ---------------------------------------------------------------------------------------------
// Clients

function connectClient(url, opts = {}) {
  const { io } = require('socket.io-client');
  const { channel, userId, query = {}, namespace = '/', timeout = 5000, ...rest } = opts;
  const q = { ...query };
  if (channel !== undefined) q.channel = channel;
  if (userId !== undefined) q.userId = userId;
  // Put channel and userId first, as the seed's client does.
  const ordered = {};
  if ('channel' in q) ordered.channel = q.channel;
  if ('userId' in q) ordered.userId = q.userId;
  Object.assign(ordered, q);
  const socket = io(url + (namespace === '/' ? '' : namespace), {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout,
    query: ordered,
    ...rest,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.close();
      reject(new Error(`socket.io client (query ${describeValue(ordered)}) did not connect to ${url}${namespace} within ${timeout} ms`));
    }, timeout + 500);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      socket.close();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onError);
  });
}

// Expects connectClient to fail; resolves with the connect_error.
async function expectConnectError(url, opts = {}) {
  try {
    const socket = await connectClient(url, opts);
    socket.close();
  } catch (err) {
    return err;
  }
  throw new Error(`expected a connect_error from ${url}${opts.namespace || ''}, but the client connected`);
}

// chatd stamps every `chat` whose payload is an object with the server's `id` (the worker's
// 6-character adapter uid, '-', a counter) and `ts` as its first members (README, Events); a
// client's own `id` wins over it; the reference seed stamps nothing. Tests compare the client's
// own payload exactly: `collect(socket, 'chat')` keeps each stamp in `stamps` (null: unstamped)
// and the payload without it in `items`/`args`, and raw frames go through unstampText.
const STAMP_ID = /^[A-Za-z0-9_-]{6}-[0-9]+$/;

function isStamp(p) {
  return !isReference && isPlainObject(p) && typeof p.id === 'string' && STAMP_ID.test(p.id) && Number.isSafeInteger(p.ts);
}

function unstamped(p) {
  if (!isStamp(p)) return p;
  const { id, ts, ...rest } = p;
  return rest;
}

function unstampText(text) {
  return isReference ? text : text.replace(/^(4[25](?:[0-9]+-)?\["chat",\{)"id":"[^"]*","ts":[0-9]+,?/, '$1');
}

function collect(socket, event) {
  const c = {
    event,
    items: [],
    args: [],
    stamps: [],
    count(pred) {
      return pred ? c.items.filter(pred).length : c.items.length;
    },
    waitCount(n, { timeout = 5000, label = '' } = {}) {
      return waitFor(() => c.items.length >= n, {
        timeout,
        message: () => `${label ? `${label}: ` : ''}${n} '${event}' event(s), got ${c.items.length}: ${describeValue(c.items)}`,
      });
    },
    waitFor(pred, { timeout = 5000, label = 'matching' } = {}) {
      return waitFor(() => c.items.find(pred), {
        timeout,
        message: () => `a '${event}' event ${label}; got ${c.items.length}: ${describeValue(c.items)}`,
      });
    },
    clear() {
      c.items.length = 0;
      c.args.length = 0;
    },
  };
  socket.on(event, (...args) => {
    if (typeof args[args.length - 1] === 'function') args.pop();
    if (event === 'chat') {
      c.stamps.push(isStamp(args[0]) ? { id: args[0].id, ts: args[0].ts } : null);
      args[0] = unstamped(args[0]);
    }
    c.args.push(args);
    c.items.push(args[0]);
  });
  return c;
}

function collectAny(socket) {
  const events = [];
  socket.onAny((event, ...args) => events.push({ event, args }));
  return events;
}

// ---------------------------------------------------------------------------------------------
// Scope: owns everything a test starts and ends it in t.after, in reverse order.

function scope(t) {
  const cleanups = [];
  const servers = [];
  t.after(async () => {
    const errors = [];
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    for (const { server, stoppedByTest } of servers) {
      if (server.sanitizerReports.length) {
        errors.push(new Error(`${server.kind} (pid ${server.pid}) logged a sanitizer report: ` +
          `${server.sanitizerReports[0]}; log tail:\n${server.logTail(60)}`));
      }
      const ex = server.exitedBeforeCleanup;
      if (ex && !stoppedByTest()) {
        errors.push(new Error(`${server.kind} (pid ${server.pid}) exited on its own during the test ` +
          `(code ${ex.code}, signal ${ex.signal}); log tail:\n${server.logTail(40)}`));
      }
    }
    if (errors.length) throw errors.length === 1 ? errors[0] : new AggregateError(errors, errors.map((e) => e.message).join('\n'));
  });

  function trackServer(server) {
    let stoppedByTest = false;
    const origStop = server.stop;
    const origKill = server.kill;
    server.stop = (...a) => {
      stoppedByTest = true;
      return origStop(...a);
    };
    server.kill = (...a) => {
      stoppedByTest = true;
      return origKill(...a);
    };
    const origSignal = server.signal;
    server.signal = (name) => {
      // a test that asks for a stop expects the exit
      if (['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGKILL'].includes(name)) stoppedByTest = true;
      return origSignal(name);
    };
    servers.push({ server, stoppedByTest: () => stoppedByTest });
    cleanups.push(async () => {
      server.exitedBeforeCleanup = server.exited;
      const res = await server.cleanup();
      if (res && res.forced) t.diagnostic(`${server.kind} pid ${server.pid} ignored SIGTERM for 5 s and was killed`);
    });
    return server;
  }

  const s = {
    defer(fn) {
      cleanups.push(fn);
    },
    track(thing) {
      cleanups.push(async () => {
        if (typeof thing.close === 'function') return thing.close();
        if (typeof thing.destroy === 'function') return thing.destroy();
        if (typeof thing.stop === 'function') return thing.stop();
        return undefined;
      });
      return thing;
    },
    async redis(opts) {
      const r = await startRedis(opts);
      cleanups.push(() => r.cleanup());
      return r;
    },
    async server(opts) {
      return trackServer(await startServer(opts));
    },
    async chatd(opts) {
      return trackServer(await startChatd(opts));
    },
    async reference(opts) {
      return trackServer(await startReference(opts));
    },
    async client(url, opts) {
      const socket = await connectClient(url, opts);
      cleanups.push(() => socket.close());
      return socket;
    },
  };
  return s;
}

// Two chatd instances (one worker each) on one fresh redis-server, in scope `s`'s test.
async function twoInstances(t) {
  const s = scope(t);
  const redis = await s.redis();
  const s1 = await s.server({ workers: 1, redisUrl: redis.url });
  const s2 = await s.server({ workers: 1, redisUrl: redis.url });
  return { s, redis, s1, s2 };
}

module.exports = {
  twoInstances,
  unstamped,
  unstampText,
  SOURCE_DIR,
  TARGET,
  isReference,
  SETTLE_MS,
  sleep,
  settle,
  waitFor,
  withTimeout,
  describeValue,
  plainData,
  freePort,
  portAccepts,
  makeTempDir,
  childPids,
  redisCommand,
  spawnLogged,
  startRedis,
  httpRequest,
  parseMetrics,
  getMetrics,
  chatdBinary,
  toYaml,
  deepMerge,
  makeServer,
  waitReady,
  startChatd,
  startReference,
  startServer,
  connectClient,
  expectConnectError,
  collect,
  collectAny,
  scope,
};
