'use strict';
/*
 * Hosts of their own on one machine: Linux network namespaces joined by a bridge, so that a test
 * (or a benchmark) can run several "machines" of a deployment — chatd hosts, Redis hosts — each
 * with its own IP address and port space, and cut one of them off the network. It exists for the
 * multi-host tests of issue 13 (tests/integration/cluster_hosts.test.js) and bench/cluster-hosts.
 *
 * Layout of one run (names unique per run, so that parallel CTest runs do not meet):
 *   bridge  cb<id> in the root namespace, address 10.<a>.<b>.254/24: the tests' own clients run in
 *           the root namespace and reach every host through it
 *   host i  namespace chatd-<id>-<label>, veth pair cv<id><i> (on the bridge) <-> cv<id><i>p
 *           (inside, address 10.<a>.<b>.<i>/24), lo up
 * <id> is 4 hex characters; 10.<a>.<b>.0/24 is chosen at random among subnets no interface of the
 * root namespace uses. Traffic stays on the bridge: no route out, no forwarding. (A machine whose
 * iptables FORWARD policy drops and that has br_netfilter on, as Docker hosts do, drops the hosts'
 * traffic to each other on the bridge too: the cluster then never forms and the test says so.)
 *
 *   canCreateNamespaces() -> {ok: true} | {ok: false, reason}   creates and deletes a namespace
 *       (root, the `ip` tool, a kernel that allows it); the reason says which is missing
 *   createHosts(labels) -> Net   one host per label (e.g. ['h1', 'h2', 'r1'])
 *   Net: {id, subnet, bridge, bridgeIp, hosts: [Host], host(label) -> Host,
 *         spawn(host, label, cmd, args, opts) -> Proc   (spawnLogged inside the host's namespace;
 *             `ip netns exec` execs the command, so the PID is the command's own),
 *         linkDown(host), linkUp(host)   the host's bridge-side veth down/up: the host is cut off
 *             (its processes keep running, their TCP peers just stop hearing from them),
 *         teardown()   SIGKILLs whatever still runs in its namespaces, deletes them and the bridge
 *             (the veths go with the namespaces); idempotent; also run from a process 'exit'
 *             handler, and SIGINT/SIGTERM are made to exit the process so that it runs}
 *   Host: {label, netns (namespace name), ip, veth (bridge side), index}
 *
 * A run killed before its exit handler (CTest's timeout sends SIGKILL) leaves its namespaces
 * behind: each run records what it made in $TMPDIR/chatd-netns/<id>.json with its PID, and the
 * next createHosts() deletes what a dead PID left (SIGKILLing what still runs in its namespaces).
 */

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnLogged } = require('./harness');

const IP = process.env.IP_TOOL || 'ip';
const STATE_DIR = path.join(os.tmpdir(), 'chatd-netns');

function ip(args, { quiet = false } = {}) {
  try {
    return execFileSync(IP, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    if (quiet) return null;
    const err = (e.stderr || '').trim() || e.message;
    throw new Error(`${IP} ${args.join(' ')}: ${err}`);
  }
}

function canCreateNamespaces() {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces are Linux only (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: `creating network namespaces needs root (uid ${process.getuid()})` };
  }
  const probe = `chatd-probe-${crypto.randomBytes(3).toString('hex')}`;
  try {
    execFileSync(IP, ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    if (e.code === 'ENOENT') return { ok: false, reason: `no '${IP}' tool (iproute2) on PATH` };
    return { ok: false, reason: `ip netns add failed: ${(e.stderr || '').toString().trim() || e.message}` };
  }
  ip(['netns', 'del', probe], { quiet: true });
  return { ok: true };
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

// Deletes namespace `ns` after SIGKILLing what still runs in it (`ip netns pids`: processes a run
// of this file started there, the only ones that can be in a namespace it made).
function deleteNamespace(ns) {
  for (const pid of (ip(['netns', 'pids', ns], { quiet: true }) || '').split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  ip(['netns', 'del', ns], { quiet: true });
}

// What runs that died without their exit handler left: namespaces (and what runs in them) and
// bridges named in their state files.
function sweepStale() {
  let files = [];
  try {
    files = fs.readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const f of files) {
    const file = path.join(STATE_DIR, f);
    let state;
    try {
      state = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (pidAlive(state.pid)) continue;
    for (const ns of state.namespaces || []) deleteNamespace(ns);
    if (state.bridge) ip(['link', 'del', state.bridge], { quiet: true });
    fs.rmSync(file, { force: true });
  }
}

// A 10.a.b.0/24 that no address of the root namespace is in.
function freeSubnet() {
  const used = new Set();
  for (const m of (ip(['-o', '-4', 'addr', 'show']) || '').matchAll(/inet (\d+)\.(\d+)\.(\d+)\.\d+/g)) {
    used.add(`${m[1]}.${m[2]}.${m[3]}`);
  }
  for (let tries = 0; tries < 100; tries++) {
    const prefix = `10.${100 + crypto.randomInt(150)}.${crypto.randomInt(256)}`;
    if (!used.has(prefix)) return prefix;
  }
  throw new Error('no free 10.x.y.0/24 subnet found');
}

function createHosts(labels) {
  if (!labels.length || labels.length > 250) throw new Error(`createHosts: 1 to 250 hosts, not ${labels.length}`);
  sweepStale();
  const id = crypto.randomBytes(2).toString('hex');
  const prefix = freeSubnet();
  const bridge = `cb${id}`;
  const bridgeIp = `${prefix}.254`;
  const hosts = labels.map((label, i) => ({
    label,
    index: i + 1,
    netns: `chatd-${id}-${label}`,
    ip: `${prefix}.${i + 1}`,
    veth: `cv${id}${i + 1}`,
  }));
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const stateFile = path.join(STATE_DIR, `${id}.json`);
  fs.writeFileSync(stateFile, JSON.stringify({ pid: process.pid, bridge, namespaces: hosts.map((h) => h.netns) }));

  let tornDown = false;
  // SIGINT/SIGTERM (Ctrl-C, a runner giving up) end the process through process.exit, so that
  // the exit handlers (this teardown, the harness's kill of its children) run.
  const onSignal = (sig) => process.exit(sig === 'SIGINT' ? 130 : 143);
  const teardown = () => {
    if (tornDown) return;
    tornDown = true;
    process.removeListener('exit', teardown);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const h of hosts) deleteNamespace(h.netns);
    ip(['link', 'del', bridge], { quiet: true });
    fs.rmSync(stateFile, { force: true });
  };
  process.on('exit', teardown);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${bridgeIp}/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    for (const h of hosts) {
      ip(['netns', 'add', h.netns]);
      ip(['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', `${h.veth}p`]);
      ip(['link', 'set', `${h.veth}p`, 'netns', h.netns]);
      ip(['link', 'set', h.veth, 'master', bridge]);
      ip(['link', 'set', h.veth, 'up']);
      ip(['-n', h.netns, 'addr', 'add', `${h.ip}/24`, 'dev', `${h.veth}p`]);
      ip(['-n', h.netns, 'link', 'set', `${h.veth}p`, 'up']);
      ip(['-n', h.netns, 'link', 'set', 'lo', 'up']);
    }
  } catch (e) {
    teardown();
    throw e;
  }

  const byLabel = new Map(hosts.map((h) => [h.label, h]));
  return {
    id,
    subnet: `${prefix}.0/24`,
    bridge,
    bridgeIp,
    hosts,
    host(label) {
      const h = byLabel.get(label);
      if (!h) throw new Error(`no host ${label} (have ${[...byLabel.keys()]})`);
      return h;
    },
    spawn(host, label, cmd, args, opts = {}) {
      return spawnLogged(`${label}@${host.label}`, cmd, args, { ...opts, netns: host.netns });
    },
    linkDown(host) {
      ip(['link', 'set', host.veth, 'down']);
    },
    linkUp(host) {
      ip(['link', 'set', host.veth, 'up']);
    },
    teardown,
  };
}

module.exports = { canCreateNamespaces, createHosts };
