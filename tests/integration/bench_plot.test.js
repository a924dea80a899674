'use strict';
// bench/plot turns a bench/compare results.json into a PNG with gnuplot: fed a small fixed
// results file (tests/fixtures/bench/compare_results.json) it writes a real PNG, and without
// gnuplot it says so and exits 1. Nothing about the figures themselves is asserted.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SOURCE_DIR } = require('./lib/harness');

const PLOT = path.join(SOURCE_DIR, 'bench', 'plot');
const FIXTURE = path.join(SOURCE_DIR, 'tests', 'fixtures', 'bench', 'compare_results.json');
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const hasGnuplot = spawnSync(process.env.GNUPLOT || 'gnuplot', ['--version']).status === 0;
const skip = hasGnuplot ? false : 'gnuplot is not installed (Debian: apt-get install gnuplot-nox)';

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-bench-plot-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function runPlot(args, env = process.env) {
  return spawnSync(process.execPath, [PLOT, ...args], { encoding: 'utf8', env, timeout: 60_000 });
}

test('a fixed results file is rendered as a PNG', { skip }, (t) => {
  const out = path.join(tempDir(t), 'compare.png');
  const r = runPlot([FIXTURE, out]);
  assert.equal(r.status, 0, `bench/plot exited ${r.status}: ${r.stderr}`);
  const png = fs.readFileSync(out);
  assert.deepEqual(png.subarray(0, 8), PNG_MAGIC, `not a PNG: first bytes ${png.subarray(0, 8).toString('hex')}`);
  // Two panels with axes, bars, lines and a title: far more than an empty image's few hundred.
  assert.ok(png.length > 10_000, `PNG of only ${png.length} bytes`);
});

test('without gnuplot bench/plot says so and exits 1', (t) => {
  const out = path.join(tempDir(t), 'compare.png');
  const r = runPlot([FIXTURE, out], { ...process.env, GNUPLOT: path.join(os.tmpdir(), 'no-such-gnuplot') });
  assert.equal(r.status, 1, `exit ${r.status}; stderr: ${r.stderr}`);
  assert.match(r.stderr, /gnuplot not found .*apt-get install gnuplot-nox/);
  assert.equal(fs.existsSync(out), false, 'a PNG was written without gnuplot');
});
