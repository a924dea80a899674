'use strict';
// `cpack -G DEB` (systemd/deb/package.cmake) makes a Debian package of chatd: its control fields,
// files and modes, conffiles and maintainer scripts, the binary it ships running on the config it
// ships, dpkg installing, reinstalling over a local edit, removing and purging it in a throwaway
// root, and what the maintainer scripts ask of systemd. Nothing here touches the machine's dpkg
// database or its systemd: the package goes to a temporary directory, dpkg gets --root, and the
// scripts' systemctl calls go to stubs.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chatdBinary, SOURCE_DIR, isReference } = require('./lib/harness');

function findProgram(name) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/bin', '/bin'])) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

const dpkgDeb = findProgram('dpkg-deb');
const dpkg = findProgram('dpkg');
const cpack = process.env.CHATD_CPACK || findProgram('cpack');
const buildDir = process.env.CHATD_BUILD_DIR || (isReference ? null : path.dirname(chatdBinary()));
const cpackConfig = buildDir ? path.join(buildDir, 'CPackConfig.cmake') : null;
// The layout checked here is the distribution's: a build with another CMAKE_INSTALL_PREFIX packages
// its own paths.
const prefix = cpackConfig && fs.existsSync(cpackConfig)
  ? (/set\(CPACK_PACKAGING_INSTALL_PREFIX "([^"]*)"\)/.exec(fs.readFileSync(cpackConfig, 'utf8')) || [])[1] : null;
const skip = isReference ? 'the package is chatd\'s own'
  : !dpkgDeb ? 'dpkg-deb is not installed (Debian: apt-get install dpkg)'
    : !cpack ? 'cpack is not installed (Debian: apt-get install cmake)'
      : !findProgram('dpkg-shlibdeps') ? 'dpkg-shlibdeps is not installed (Debian: apt-get install dpkg-dev)'
        : prefix === null ? `no CPackConfig.cmake in ${buildDir}`
          : prefix !== '/usr' ? `the build installs into ${prefix}, not /usr: its package has other paths`
            : false;
const skipDpkg = skip || (dpkg ? false : 'dpkg is not installed');

const UNIT = '/lib/systemd/system/chatd.service';
const BINARY = '/usr/sbin/chatd';
const CONFIG = '/etc/chatd/chatd.yaml';

function run(cmd, args, { env, input, timeout = 30_000 } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, input, timeout });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}

function ok(cmd, args, opts) {
  const r = run(cmd, args, opts);
  assert.equal(r.code, 0, `${path.basename(cmd)} ${args.join(' ')}: exit ${r.code}\n${r.all}`);
  return r.stdout;
}

// The package, made once: cpack into a temporary directory (its staging tree too), not the build's.
let made = null;
function makePackage() {
  if (made) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-deb-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'out');
  ok(cpack, ['-G', 'DEB', '--config', cpackConfig, '-B', out],
    { timeout: 50_000 });
  const debs = fs.readdirSync(out).filter((f) => f.endsWith('.deb'));
  assert.equal(debs.length, 1, `one .deb in ${out}: ${debs}`);
  const version = /^chatd (\S+)\n$/.exec(ok(chatdBinary(), ['--version']))[1];
  made = { dir, deb: path.join(out, debs[0]), name: debs[0], version };
  return made;
}

// Control fields, continuation lines joined with '\n'.
function controlFields(text) {
  const fields = {};
  let last = null;
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && last) {
      fields[last] += `\n${line}`;
    } else {
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1];
        fields[last] = m[2];
      }
    }
  }
  return fields;
}

// dpkg-deb --contents lines: "-rwxr-xr-x root/root 123 2026-01-01 00:00 ./usr/sbin/chatd".
function contents(deb) {
  return ok(dpkgDeb, ['--contents', deb]).trim().split('\n').map((line) => {
    const [mode, owner] = line.split(/\s+/);
    return { mode, owner, path: line.slice(line.indexOf(' ./') + 2).replace(/\/$/, '') || '/' };
  });
}

test('cpack -G DEB makes chatd_<version>_<arch>.deb with Debian\'s control fields', { timeout: 60_000, skip }, () => {
  const { deb, name, version } = makePackage();
  const arch = ok(dpkg || 'dpkg', ['--print-architecture']).trim();
  assert.equal(name, `chatd_${version}_${arch}.deb`);
  const f = controlFields(ok(dpkgDeb, ['--field', deb]));
  assert.equal(f.Package, 'chatd');
  assert.equal(f.Version, version, 'the project version, as chatd --version says');
  assert.equal(f.Architecture, arch);
  assert.match(f.Maintainer, /^[^<>]+ <[^<>@\s]+@[^<>\s]+>$/, `Maintainer: ${f.Maintainer}`);
  assert.equal(f.Section, 'net');
  assert.equal(f.Priority, 'optional');
  assert.equal(f.Homepage, undefined, 'no Homepage: the project has none');
  assert.equal(f.Suggests, 'redis-server');
  const [summary, ...extended] = f.Description.split('\n');
  assert.ok(summary.length > 10 && summary.length <= 80, `a one-line summary: ${summary}`);
  assert.ok(extended.length >= 2 && extended.every((l) => l.startsWith(' ')), `an extended description:\n${f.Description}`);
  // Depends is mostly dpkg-shlibdeps' work: the shared libraries chatd links, with minimum versions.
  const depends = new Map((f.Depends || '').split(/,\s*/).map((d) => {
    const m = /^([a-z0-9.+-]+)(?: \(>= ([^)]+)\))?$/.exec(d);
    assert.ok(m, `a Depends entry: ${d} (in ${f.Depends})`);
    return [m[1], m[2]];
  }));
  // By name without the soname's number (libhiredis0.14 on Debian 12), which the next release bumps.
  for (const lib of ['libc6', 'libstdc++', 'libuv1', 'libhiredis', 'libyaml-cpp', 'libjwt', 'libssl', 'libfmt']) {
    assert.ok([...depends].some(([pkg, min]) => pkg.startsWith(lib) && min), `Depends: ${lib}* (>= ...), got ${f.Depends}`);
  }
  assert.ok(depends.has('libsystemd0'), `Depends: libsystemd0, got ${f.Depends}`);
  assert.ok(depends.has('init-system-helpers'), `Depends: init-system-helpers (the scripts' helpers), got ${f.Depends}`);
});

test('the package holds the binary, the unit, the config and the docs, owned by root with their modes', { timeout: 60_000, skip }, () => {
  const { deb } = makePackage();
  const entries = contents(deb);
  const files = Object.fromEntries(entries.filter((e) => !e.mode.startsWith('d')).map((e) => [e.path, e.mode]));
  assert.deepEqual(files, {
    [BINARY]: '-rwxr-xr-x',
    [UNIT]: '-rw-r--r--',
    [CONFIG]: '-rw-r--r--',
    '/usr/share/doc/chatd/copyright': '-rw-r--r--',
    '/usr/share/doc/chatd/changelog.gz': '-rw-r--r--',
  });
  for (const e of entries) {
    assert.equal(e.owner, 'root/root', `${e.path} owned by ${e.owner}`);
    if (e.mode.startsWith('d')) assert.equal(e.mode, 'drwxr-xr-x', `${e.path}: ${e.mode}`);
  }
});

test('conffiles lists /etc/chatd/chatd.yaml; the maintainer scripts are executable and parse', { timeout: 60_000, skip }, () => {
  const { deb, dir } = makePackage();
  const control = path.join(dir, 'control');
  fs.rmSync(control, { recursive: true, force: true });
  ok(dpkgDeb, ['-e', deb, control]);
  assert.equal(fs.readFileSync(path.join(control, 'conffiles'), 'utf8'), `${CONFIG}\n`);
  assert.deepEqual(fs.readdirSync(control).sort(),
    ['conffiles', 'control', 'md5sums', 'postinst', 'postrm', 'prerm']);
  for (const script of ['postinst', 'prerm', 'postrm']) {
    const file = path.join(control, script);
    assert.equal(fs.statSync(file).mode & 0o777, 0o755, `${script} is 0755`);
    assert.match(fs.readFileSync(file, 'utf8'), /^#!\/bin\/sh\n/, `${script} runs under /bin/sh`);
    ok('/bin/sh', ['-n', file]);
  }
});

test('the packaged chatd runs: --version, and --check-config on the packaged config; the unit names both', { timeout: 60_000, skip }, () => {
  const { deb, dir, version } = makePackage();
  const root = path.join(dir, 'extracted');
  fs.rmSync(root, { recursive: true, force: true });
  ok(dpkgDeb, ['-x', deb, root]);
  const bin = path.join(root, BINARY);
  assert.equal(ok(bin, ['--version']), `chatd ${version}\n`);
  const check = run(bin, ['--check-config', '--config', path.join(root, CONFIG)]);
  assert.equal(check.code, 0, `--check-config on the packaged config: exit ${check.code}\n${check.all}`);
  assert.equal(fs.readFileSync(path.join(root, CONFIG), 'utf8'),
    fs.readFileSync(path.join(SOURCE_DIR, 'etc', 'chatd.yaml'), 'utf8'), 'the config is etc/chatd.yaml');
  // Every command of the unit runs the packaged binary on the conffile.
  const unit = fs.readFileSync(path.join(root, UNIT), 'utf8');
  const commands = unit.split('\n').filter((l) => /^Exec(Start|StartPre|Reload)=/.test(l));
  const own = commands.filter((l) => !l.includes('/bin/kill'));
  assert.equal(own.length, 3, `ExecStartPre, ExecStart, ExecReload run chatd:\n${commands.join('\n')}`);
  for (const line of own) {
    assert.ok(line.includes(`=${BINARY} --config ${CONFIG}`), `runs ${BINARY} on ${CONFIG}: ${line}`);
  }
  assert.match(unit, /^DynamicUser=yes$/m, 'a dynamic user: the package creates none');
  // The changelog's latest entry is this version.
  const changelog = ok('/bin/sh', ['-c', 'gzip -dc "$1"', 'sh', path.join(root, 'usr/share/doc/chatd/changelog.gz')]);
  assert.match(changelog.split('\n')[0], new RegExp(`^chatd \\(${version.replaceAll('.', '\\.')}\\) `),
    'debian changelog names the package version (add an entry to systemd/deb/changelog)');
});

// Stubs for every program the maintainer scripts may call: each appends its name and arguments
// (and DPKG_ROOT, when set) to log.
function makeStubs(dir, names) {
  const bin = path.join(dir, 'stubs');
  fs.mkdirSync(bin, { recursive: true });
  const log = path.join(dir, 'calls.log');
  for (const name of names) {
    fs.writeFileSync(path.join(bin, name),
      `#!/bin/sh\necho "${name} $*\${DPKG_ROOT:+ [DPKG_ROOT]}" >> '${log}'\n`, { mode: 0o755 });
  }
  const calls = () => {
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    fs.rmSync(log, { force: true });
    return text.split('\n').filter(Boolean);
  };
  return { bin, calls };
}

test('dpkg installs it, keeps a local edit of the config on reinstall, removes and purges it, in a throwaway root', { timeout: 60_000, skip: skipDpkg }, (t) => {
  const { deb, dir } = makePackage();
  const root = path.join(dir, 'root');
  fs.rmSync(root, { recursive: true, force: true });
  for (const sub of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log']) {
    fs.mkdirSync(path.join(root, sub), { recursive: true });
  }
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), '');
  // The scripts run outside the root (chrootless, DPKG_ROOT set). systemctl and deb-systemd-invoke
  // are stubs, so that even a wrong script could not reach this machine's systemd;
  // deb-systemd-helper is the real one, which works in DPKG_ROOT.
  const stubs = makeStubs(dir, ['systemctl', 'deb-systemd-invoke']);
  const env = { ...process.env, PATH: `${stubs.bin}:${process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const dpkgIn = (...args) => ok(dpkg, [`--root=${root}`, '--force-not-root', '--force-script-chrootless',
    '--force-depends', `--log=${path.join(root, 'var/log/dpkg.log')}`, ...args], { env });
  const status = () => run('dpkg-query', [`--root=${root}`, '-W', '-f', '${db:Status-Status}', 'chatd']).stdout;
  const config = path.join(root, CONFIG);
  const helper = findProgram('deb-systemd-helper');
  if (!helper) t.diagnostic('deb-systemd-helper is not installed (init-system-helpers): enable links not checked');

  dpkgIn('-i', deb);
  assert.equal(status(), 'installed');
  assert.ok(fs.existsSync(path.join(root, BINARY)) && fs.existsSync(path.join(root, UNIT)));
  assert.deepEqual(stubs.calls(), [], 'another root: systemd is not asked anything');
  // What `systemctl enable chatd` makes; purge must take it away.
  const wants = path.join(root, 'etc/systemd/system/multi-user.target.wants');
  fs.mkdirSync(wants, { recursive: true });
  fs.symlinkSync(UNIT, path.join(wants, 'chatd.service'));

  fs.appendFileSync(config, '# a local edit\n');
  dpkgIn('-i', deb);
  assert.match(fs.readFileSync(config, 'utf8'), /# a local edit\n$/, 'the reinstall kept the edited config');

  dpkgIn('-r', 'chatd');
  assert.equal(status(), 'config-files');
  assert.ok(!fs.existsSync(path.join(root, BINARY)) && !fs.existsSync(path.join(root, UNIT)));
  assert.match(fs.readFileSync(config, 'utf8'), /# a local edit\n$/, 'remove keeps the config');
  assert.ok(fs.lstatSync(path.join(wants, 'chatd.service')).isSymbolicLink(), 'remove keeps the enable link');

  dpkgIn('-P', 'chatd');
  assert.equal(status(), '', 'purged: dpkg knows no chatd');
  assert.ok(!fs.existsSync(path.join(root, 'etc/chatd')), 'purge deletes /etc/chatd');
  if (helper) assert.throws(() => fs.lstatSync(path.join(wants, 'chatd.service')), /ENOENT/, 'purge deletes the enable link');
  assert.deepEqual(stubs.calls(), []);
});

// Runs one maintainer script from the package with systemd "running" (its /run/systemd/system
// check pointed at a directory that exists) and nothing but the stubs on PATH; returns the calls.
function runScripts(t, { systemd = true } = {}) {
  const { deb } = makePackage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-maint-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  ok(dpkgDeb, ['-e', deb, path.join(dir, 'control')]);
  const runDir = path.join(dir, 'run-systemd-system');
  if (systemd) fs.mkdirSync(runDir);
  const stubs = makeStubs(dir, ['systemctl', 'deb-systemd-helper', 'deb-systemd-invoke']);
  return (script, args, extraEnv = {}) => {
    const text = fs.readFileSync(path.join(dir, 'control', script), 'utf8');
    assert.ok(text.includes('/run/systemd/system'), `${script} checks that systemd runs`);
    const copy = path.join(dir, script);
    fs.writeFileSync(copy, text.replaceAll('/run/systemd/system', runDir));
    const env = { PATH: stubs.bin, ...extraEnv };
    ok('/bin/sh', [copy, ...args], { env });
    return stubs.calls();
  };
}

test('with systemd running, a fresh install reloads systemd and neither enables nor starts chatd', { timeout: 60_000, skip }, (t) => {
  const script = runScripts(t);
  assert.deepEqual(script('postinst', ['configure', '']), [
    'deb-systemd-helper update-state chatd.service',
    'systemctl --system daemon-reload',
  ]);
});

test('with systemd running, an upgrade keeps chatd serving until postinst restarts it if it runs', { timeout: 60_000, skip }, (t) => {
  const script = runScripts(t);
  assert.deepEqual(script('prerm', ['upgrade', '9.9.9']), [], 'prerm upgrade does not stop chatd');
  assert.deepEqual(script('postinst', ['configure', '0.0.1']), [
    'deb-systemd-helper update-state chatd.service',
    'systemctl --system daemon-reload',
    'deb-systemd-invoke try-restart chatd.service',
  ]);
});

test('with systemd running, remove stops chatd and reloads systemd; purge also drops the enable links', { timeout: 60_000, skip }, (t) => {
  const script = runScripts(t);
  assert.deepEqual(script('prerm', ['remove']), ['deb-systemd-invoke stop chatd.service']);
  assert.deepEqual(script('postrm', ['remove']), ['systemctl --system daemon-reload']);
  assert.deepEqual(script('postrm', ['purge']), [
    'deb-systemd-helper purge chatd.service',
    'systemctl --system daemon-reload',
  ]);
});

test('without systemd running, the scripts only record the enable state', { timeout: 60_000, skip }, (t) => {
  const script = runScripts(t, { systemd: false });
  assert.deepEqual(script('postinst', ['configure', '0.0.1']), ['deb-systemd-helper update-state chatd.service']);
  assert.deepEqual(script('prerm', ['remove']), []);
  assert.deepEqual(script('postrm', ['purge']), ['deb-systemd-helper purge chatd.service']);
});
