'use strict';
// The demo page at "/" in a real browser (Debian's chromium driven by playwright-core): two tabs
// join one channel, a message typed in one appears in the other; a socket.io-client in the same
// channel sees the page's messages as `chat`, proving the page speaks the seed's protocol.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { scope, collect } = require('./lib/harness');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = { timeout: 120_000 };

test('two browser tabs chat through the demo page, and a socket.io client hears them',
  { ...TIMEOUT, skip: !fs.existsSync(CHROMIUM) && `no browser at ${CHROMIUM}` },
  async (t) => {
    if (process.env.CHATD_TARGET === 'reference') return t.skip('the demo page is chatd\'s own');
    const { chromium } = require('playwright-core');
    const s = scope(t);
    const redis = await s.redis();
    const server = await s.server({ workers: 2, redisUrl: redis.url });
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-chromium-'));
    s.defer(() => fs.rmSync(profile, { recursive: true, force: true }));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    s.defer(() => browser.close());

    const listener = await s.client(server.url, { channel: 'web', userId: 'node' });
    const heard = collect(listener, 'chat');

    const open = async (user) => {
      const page = await browser.newPage();
      await page.goto(server.url + '/');
      await page.fill('#channel', 'web');
      await page.fill('#user', user);
      await page.click('#join');
      await page.waitForSelector('text=joined #web');
      return page;
    };
    const alice = await open('alice');
    const bob = await open('bob');
    await alice.waitForSelector('text=bob joined');

    await alice.fill('#body', 'hello from a browser');
    await alice.press('#body', 'Enter');
    await bob.waitForSelector('text=alice: hello from a browser');
    await heard.waitCount(1);
    assert.deepEqual(heard.items[0], { userId: 'alice', channel: 'web', body: 'hello from a browser' });
    const shot = path.join(os.tmpdir(), 'chatd-web-page.png');
    await bob.screenshot({ path: shot });
    assert.ok(fs.statSync(shot).size > 1000, 'a screenshot of the page was taken');
  });
