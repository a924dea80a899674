'use strict';
// systemd/chatd.service passes `systemd-analyze verify` with no warning at all, and says what the
// process model needs (Type=notify, reload by SIGHUP, KillMode=mixed, a high LimitNOFILE,
// hardening). verify insists that ExecStart's binary exists, so it checks a copy whose
// /usr/sbin/chatd is the binary under test — the same substitution `cmake --install` makes for
// another prefix.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chatdBinary, SOURCE_DIR, isReference } = require('./lib/harness');

const UNIT = path.join(SOURCE_DIR, 'systemd', 'chatd.service');

function findAnalyze() {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/bin', '/bin'])) {
    const candidate = path.join(dir, 'systemd-analyze');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

const analyze = findAnalyze();
const skip = isReference ? 'the unit is chatd\'s own'
  : (analyze ? false : 'systemd-analyze is not installed (Debian: apt-get install systemd)');

// Key=value lines of the [Service] section, in order (a key may repeat).
function serviceSettings(text) {
  const out = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (section === 'Service' && eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

test('systemd-analyze verify passes on the unit, without a single warning', { timeout: 60_000, skip }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-unit-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const text = fs.readFileSync(UNIT, 'utf8');
  assert.ok(text.includes('/usr/sbin/chatd'), 'the unit runs /usr/sbin/chatd');
  const copy = path.join(dir, 'chatd.service');
  fs.writeFileSync(copy, text.replaceAll('/usr/sbin/chatd', chatdBinary()));

  const r = spawnSync(analyze, ['verify', copy], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined);
  const output = `${r.stdout}${r.stderr}`.trim();
  assert.equal(r.status, 0, `systemd-analyze verify failed:\n${output}`);
  // verify exits 0 on unknown keys and unparsable values: it only warns. Any line is a finding.
  assert.equal(output, '', `systemd-analyze verify warned:\n${output}`);
});

test('the unit declares the process model and the hardening the daemon is built for', { skip: isReference ? skip : false }, () => {
  const settings = serviceSettings(fs.readFileSync(UNIT, 'utf8'));
  const get = (key) => settings.filter(([k]) => k === key).map(([, v]) => v);
  assert.deepEqual(get('Type'), ['notify']);
  assert.deepEqual(get('ExecStart'), ['/usr/sbin/chatd --config /etc/chatd/chatd.yaml']);
  assert.ok(get('ExecReload').includes('/bin/kill -HUP $MAINPID'), `ExecReload: ${get('ExecReload')}`);
  assert.deepEqual(get('KillMode'), ['mixed']);
  assert.deepEqual(get('Restart'), ['on-failure']);
  assert.ok(Number(get('LimitNOFILE')[0]) >= 100_000, 'LimitNOFILE covers 100k connections');
  assert.ok(get('DynamicUser').includes('yes') || get('User').length === 1, 'a dedicated user');
  for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['PrivateDevices', 'yes'],
    ['ProtectKernelTunables', 'yes'], ['ProtectKernelModules', 'yes'],
    ['ProtectControlGroups', 'yes'], ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
    ['RestrictNamespaces', 'yes'], ['LockPersonality', 'yes'], ['MemoryDenyWriteExecute', 'yes'],
    ['SystemCallArchitectures', 'native'], ['CapabilityBoundingSet', '']]) {
    assert.deepEqual(get(key), [value], `${key}=${value}`);
  }
  // The master gives workers shutdown_timeout (10 s by default) + 5 s: systemd must wait longer.
  const stop = /^(\d+)s$/.exec(get('TimeoutStopSec')[0] || '');
  assert.ok(stop && Number(stop[1]) > 15, `TimeoutStopSec above 15s: ${get('TimeoutStopSec')}`);
});
