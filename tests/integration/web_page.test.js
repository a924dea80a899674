'use strict';
// The demo page at "/" in a real browser (Debian's chromium driven by playwright-core), on the
// real socket.io-client chatd serves at /socket.io/socket.io.min.js: two pages join one channel,
// against one chatd with two workers and then against two chatd daemons sharing one Redis. Each
// page sees the other's login in its log (the first page joins again for the second to see it)
// and member list, and the other's messages with their server timestamps; a socket.io-client in
// the same channel hears the pages' messages as `chat`.
// Each test leaves a screenshot of one page in the build folder (beside the chatd binary):
// web-page-workers.png and web-page-two-daemons.png. Without the bundle the page says so.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { scope, collect, chatdBinary, isReference } = require('./lib/harness');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OPTS = {
  timeout: 120_000,
  skip: (isReference && 'the demo page is chatd\'s own') || (!fs.existsSync(CHROMIUM) && `no browser at ${CHROMIUM}`),
};
const CHANNEL = 'web';

async function launchBrowser(s) {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-chromium-'));
  s.defer(() => fs.rmSync(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 560 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  s.defer(() => browser.close());
  return browser;
}

// A page on `url` joined to CHANNEL as `user`, once its socket is connected.
async function openPage(browser, url, user) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url + '/');
  assert.equal(await page.evaluate(() => typeof io), 'function', 'the page loaded the Socket.IO client');
  await page.fill('#channel', CHANNEL);
  await page.fill('#user', user);
  await page.click('#join');
  await page.waitForSelector('#state[data-state="connected"]');
  page.errors = errors;
  return page;
}

const members = (page) => page.$$eval('#members li', (lis) => lis.map((li) => li.dataset.user));

async function waitMembers(page, want) {
  await page.waitForFunction((w) => {
    const have = [...document.querySelectorAll('#members li')].map((li) => li.dataset.user);
    return have.length === w.length && w.every((u) => have.includes(u));
  }, want, { timeout: 10_000 }).catch(async () => {
    assert.fail(`members ${JSON.stringify(want)}, the page shows ${JSON.stringify(await members(page))}`);
  });
}

// The message from `from` with `text` in `page`'s log: its time element and its stamp id.
async function waitMessage(page, from, text) {
  const sel = `#log li.msg[data-from="${from}"]:not(.me)`;
  await page.waitForFunction(([s, t]) => [...document.querySelectorAll(s)].some((li) =>
    li.querySelector('.text').textContent === t), [sel, text], { timeout: 10_000 });
  return page.$$eval(sel, (lis, t) => {
    const li = lis.find((l) => l.querySelector('.text').textContent === t);
    const time = li.querySelector('time');
    return { id: li.dataset.id, datetime: time.dateTime, shown: time.textContent };
  }, text);
}

async function send(page, text) {
  await page.fill('#body', text);
  await page.press('#body', 'Enter');
  await page.waitForFunction((t) => [...document.querySelectorAll('#log li.me')].some((li) =>
    li.querySelector('.text').textContent === t && li.querySelector('.ack').textContent.startsWith('✓')),
  text, { timeout: 10_000 });
}

// Alice on urlA and Bob on urlB chat; a Node client on urlA listens. Bob's page is saved as
// `shot` while all three are in the room. Returns Bob's page.
async function chat(s, browser, urlA, urlB, shot, t) {
  const listener = await s.client(urlA, { channel: CHANNEL, userId: 'node' });
  const heard = collect(listener, 'chat');
  const before = Date.now();

  const alice = await openPage(browser, urlA, 'alice');
  await waitMembers(alice, ['alice', 'node']);
  const bob = await openPage(browser, urlB, 'bob');
  await alice.waitForSelector('#log li.sys >> text=bob joined');
  await waitMembers(alice, ['alice', 'bob', 'node']);
  await waitMembers(bob, ['alice', 'bob', 'node']);
  // Alice joins again (a new connection with its own query): Bob sees her leave and log in.
  await alice.click('#join');
  await bob.waitForSelector('#log li.sys >> text=alice left');
  await bob.waitForSelector('#log li.sys >> text=alice joined');
  await alice.waitForSelector('#state[data-state="connected"]');
  await waitMembers(bob, ['alice', 'bob', 'node']);
  await waitMembers(alice, ['alice', 'bob', 'node']);

  await send(alice, 'hello from alice <b>not bold</b>');
  const atBob = await waitMessage(bob, 'alice', 'hello from alice <b>not bold</b>');
  await send(bob, 'hi alice');
  const atAlice = await waitMessage(alice, 'bob', 'hi alice');

  for (const [who, m] of [['bob', atBob], ['alice', atAlice]]) {
    const ts = Date.parse(m.datetime);
    assert.ok(ts >= before - 1000 && ts <= Date.now() + 1000, `${who}'s message time ${m.datetime} is now`);
    assert.match(m.shown, /^\d\d:\d\d:\d\d$/, `${who} shows the time`);
    assert.match(m.id || '', /^[A-Za-z0-9_-]+-[0-9]+$/, `${who}'s message carries the server's id`);
  }
  assert.equal(await bob.$('#log b'), null, 'a message is text, never HTML');

  await heard.waitCount(2);
  assert.deepEqual(heard.items, [
    { userId: 'alice', channel: CHANNEL, body: 'hello from alice <b>not bold</b>' },
    { userId: 'bob', channel: CHANNEL, body: 'hi alice' },
  ]);
  assert.ok(heard.stamps.every((st) => st && Number.isSafeInteger(st.ts)), 'the node client got stamps too');

  // The default transports: polling first, then the upgrade to WebSocket the page shows.
  await bob.waitForFunction(() => document.getElementById('transport').textContent === 'websocket', null, { timeout: 10_000 });

  await screenshot(bob, shot, t);
  await alice.close();
  await bob.waitForSelector('#log li.sys >> text=alice left');
  await waitMembers(bob, ['bob', 'node']);
  for (const p of [alice, bob]) assert.deepEqual(p.errors, [], 'no script error on the page');
  t.diagnostic(`bob's log: ${(await bob.$$eval('#log li', (lis) => lis.map((l) => l.textContent))).join(' | ')}`);
  return bob;
}

async function screenshot(page, name, t) {
  const shot = path.join(path.dirname(chatdBinary()), name);
  await page.screenshot({ path: shot });
  assert.ok(fs.statSync(shot).size > 1000, 'a screenshot of the page was taken');
  t.diagnostic(`screenshot: ${shot}`);
}

test('two pages chat through one chatd with two workers', OPTS, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 2, redisUrl: redis.url });
  const browser = await launchBrowser(s);
  await chat(s, browser, server.url, server.url, 'web-page-workers.png', t);
});

test('two pages chat through two chatd daemons sharing one Redis', OPTS, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const a = await s.chatd({ workers: 1, redisUrl: redis.url });
  const b = await s.chatd({ workers: 1, redisUrl: redis.url });
  const browser = await launchBrowser(s);
  const bob = await chat(s, browser, a.url, b.url, 'web-page-two-daemons.png', t);

  // Bob's daemon stops: the page says why and counts its reconnect attempts; one on the same
  // port brings it back.
  await b.stop();
  await bob.waitForSelector('#log li.sys >> text=disconnected: transport close');
  await bob.waitForSelector('#state[data-state="reconnecting"] >> text=attempt');
  await s.chatd({ workers: 1, redisUrl: redis.url, port: b.port });
  await bob.waitForSelector('#state[data-state="connected"]', { timeout: 30_000 });
  await bob.waitForSelector('#log li.sys >> text=/reconnected after \\d+ attempt/');
  await waitMembers(bob, ['bob', 'node']);
});

test('without the client bundle the page says it is missing', OPTS, async (t) => {
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.chatd({ workers: 1, redisUrl: redis.url });
  const browser = await launchBrowser(s);
  const page = await browser.newPage();
  // As a build without the package answers (worker/client_bundle.cpp's 404).
  await page.route('**/socket.io/socket.io.min.js', (route) =>
    route.fulfill({ status: 404, contentType: 'text/plain', body: 'not embedded' }));
  await page.goto(server.url + '/');
  assert.ok(await page.isVisible('#missing'), 'the page shows the missing-bundle notice');
  assert.match(await page.textContent('#missing'), /client bundle is missing/);
  assert.ok(await page.isDisabled('#join'), 'Join is disabled');
});
