'use strict';
// The master's command line: --version, --help, --check-config (good file, bad file with its line,
// missing file, command-line overrides), usage errors (exit 64) and a listening address that
// cannot be bound (exit 1 with the reason). None of these needs Redis or a worker.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chatdBinary, SOURCE_DIR, isReference } = require('./lib/harness');

const skip = isReference ? 'the command line is chatd\'s own' : false;
const TIMEOUT = { timeout: 30_000, skip };

function run(args, { timeout = 10_000 } = {}) {
  const r = spawnSync(chatdBinary(), args, { encoding: 'utf8', timeout });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function tempConfig(t, text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'chatd.yaml');
  fs.writeFileSync(file, text);
  return file;
}

test('--version prints the version and exits 0', TIMEOUT, () => {
  const r = run(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^chatd \d+\.\d+\.\d+\n$/);
});

test('--help lists every option and exits 0', TIMEOUT, () => {
  const r = run(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const option of ['--config', '--workers', '--port', '--listen', '--redis', '--log-level',
    '--check-config', '--version', '--help']) {
    assert.ok(r.stdout.includes(option), `--help mentions ${option}:\n${r.stdout}`);
  }
  assert.equal(run(['-h']).stdout, r.stdout, '-h is --help');
});

test('an unknown option is a usage error: exit 64 with a hint', TIMEOUT, () => {
  const r = run(['--frobnicate']);
  assert.equal(r.code, 64);
  assert.match(r.stderr, /unknown option '--frobnicate'/);
  assert.match(r.stderr, /--help/);
  assert.equal(r.stdout, '');
});

test('an option without its value, or with a malformed one, is a usage error', TIMEOUT, () => {
  for (const args of [['--config'], ['--workers', 'two'], ['--port', '70000'], ['--port', '0'],
    ['--log-level', 'loud'], ['--version=1'], ['stray']]) {
    const r = run(args);
    assert.equal(r.code, 64, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.ok(r.stderr.length > 0, `${args.join(' ')} says why`);
  }
});

test('--check-config accepts the shipped etc/chatd.yaml and summarises it', TIMEOUT, () => {
  const file = path.join(SOURCE_DIR, 'etc', 'chatd.yaml');
  const r = run(['--check-config', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^configuration ok: listen 0\.0\.0\.0:8000, \d+ workers?/);
  assert.ok(r.stdout.includes(file), `names the file it read: ${r.stdout}`);
});

test('--check-config applies the command-line overrides on top of the file', TIMEOUT, (t) => {
  const file = tempConfig(t, 'workers: 1\nlisten:\n  port: 8100\n');
  const r = run(['--config', file, '--workers', '3', '--port', '9123', '--listen', '::1',
    '--redis', 'redis://10.1.2.3:6380', '--log-level', 'warn', '--check-config']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /listen \[::1\]:9123, 3 workers/);
  assert.match(r.stdout, /redis redis:\/\/10\.1\.2\.3:6380/);
  assert.match(r.stdout, /log warn/);
});

test('--check-config refuses a bad file with file:line: reason and exit 1', TIMEOUT, (t) => {
  const file = tempConfig(t, 'workers: 2\nlisten:\n  port: 8000\n  colour: blue\n');
  const r = run(['--check-config', '--config', file]);
  assert.equal(r.code, 1, `exit 1, got ${r.code}: ${r.stdout}`);
  assert.ok(r.stderr.startsWith(`${file}:4: `), `file:line: first: ${r.stderr}`);
  assert.match(r.stderr, /colour/);
  assert.equal(r.stdout, '', 'nothing on stdout when the check fails');
});

test('--check-config refuses a value that is out of range, naming its line', TIMEOUT, (t) => {
  const file = tempConfig(t, '# comment\nworkers: -4\n');
  const r = run(['--check-config', '--config', file]);
  assert.equal(r.code, 1);
  assert.ok(r.stderr.startsWith(`${file}:2: `), r.stderr);
});

test('--check-config refuses a file that does not exist', TIMEOUT, (t) => {
  const file = path.join(path.dirname(tempConfig(t, '')), 'missing.yaml');
  const r = run(['--check-config', '--config', file]);
  assert.equal(r.code, 1);
  assert.ok(r.stderr.includes(file), r.stderr);
});

test('--check-config refuses a bad command-line value with <command line> as the source', TIMEOUT, (t) => {
  const file = tempConfig(t, 'workers: 1\n');
  const r = run(['--check-config', '--config', file, '--redis', 'http://nope']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^<command line>: /);
});

test('a port held by another socket without SO_REUSEPORT stops start-up with the reason, exit 1', TIMEOUT, async (t) => {
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const file = tempConfig(t, 'workers: 2\nlog:\n  level: info\n');
  const r = run(['--config', file, '--listen', '127.0.0.1', '--port', String(blocker.address().port)]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /bind: Address already in use/);
  assert.ok(r.stderr.includes(`127.0.0.1:${blocker.address().port}`), r.stderr);
  assert.doesNotMatch(r.stderr, /worker \d+ started/, 'no worker was forked');
});
