// The privacy team's console in Debian's Chromium (issue 14). Run by
// crates/cli/tests/console_browser.rs, which builds the server in process on a clock this
// script moves; not picked up by `node --test tests/browser/` (the banner's run), whose server
// has no console users.
//
// Environment (set by the Rust test):
//   CUSTODIAN_URL        the server
//   CUSTODIAN_CLOCK      its clock: GET /now, POST /set?at=MICROS, POST /advance?seconds=N
//   CUSTODIAN_REQUEST    the id of a verified access request (UK GDPR) to work to completed
//   CUSTODIAN_PASSWORD   the password of admin@, dpo@ and viewer@example.com
//   CUSTODIAN_ARTIFACTS  where the screenshots go (test-artifacts/console)
//   CHROMIUM             the browser

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launch, axe } from './helpers.mjs';

const API = process.env.CUSTODIAN_URL;
const CLOCK = process.env.CUSTODIAN_CLOCK;
const REQUEST = process.env.CUSTODIAN_REQUEST;
const PASSWORD = process.env.CUSTODIAN_PASSWORD;
const ARTIFACTS = process.env.CUSTODIAN_ARTIFACTS || path.resolve('test-artifacts/console');
if (!CLOCK || !REQUEST || !PASSWORD) {
  throw new Error('run this through `cargo test -p custodian --test console_browser`');
}

const DAY = 86_400_000_000;
const WEEK = 7 * DAY;
const WEEKS = 12;

// ---- The server's clock ------------------------------------------------------------------

async function clock(target, method = 'POST') {
  const r = await fetch(CLOCK + target, { method });
  assert.equal(r.status, 200, `clock ${target}`);
  return Number(await r.text());
}
const serverNow = () => clock('/now', 'GET');
const setClock = (at) => clock(`/set?at=${at}`);
const advance = (seconds) => clock(`/advance?seconds=${seconds}`);

/** The Monday (00:00 UTC) of the week `now` is in, eleven weeks back (as app::overview). */
function firstWeek(now) {
  const days = Math.floor(now / DAY);
  const monday = days - (((days + 3) % 7) + 7) % 7;
  return monday * DAY - (WEEKS - 1) * WEEK;
}

// ---- RFC 6238, as an authenticator app computes it ----------------------------------------

function fromBase32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    value = ((value << 5) | alphabet.indexOf(c)) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(key, micros) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(micros / 1e6 / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const at = h[h.length - 1] & 0x0f;
  return String((h.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// ---- Pages: axe, CSP, screenshots ---------------------------------------------------------

/** Every page checked: name → its serious and critical axe violations. */
const checked = new Map();

async function newContext(browser, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ locale: 'en-GB', viewport });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  return { context, page };
}

/** Runs axe on the page, checks it broke no CSP rule, and takes its screenshot. */
async function check(page, name, { fullPage = true } = {}) {
  checked.set(name, await axe(page));
  assert.deepEqual(await page.evaluate(() => window.__csp), [], `${name}: no CSP violation`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage, animations: 'disabled' });
}

/** Clicks `locator` (a form's button) and answers the response the navigation ends on. */
async function submit(page, locator) {
  const [response] = await Promise.all([page.waitForNavigation(), locator.click()]);
  return response;
}

async function signIn(page, email, password = PASSWORD) {
  await page.goto(`${API}/console/login`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  return submit(page, page.getByRole('button', { name: 'Sign in' }));
}

const alertText = (page) => page.locator('[role=alert]').innerText();

// ---- Consent over twelve weeks, as the overview must count it ------------------------------

/** purpose → { given, refused, withdrawn } per week, as recorded below. */
const expected = {};
const seededDevice = 'dev_000b000000000001';

async function seedConsent() {
  const start = await serverNow();
  const origin = firstWeek(start);
  const last = new Map();
  const count = (purpose, kind, week) => {
    expected[purpose] ??= { given: Array(WEEKS).fill(0), refused: Array(WEEKS).fill(0), withdrawn: Array(WEEKS).fill(0) };
    expected[purpose][kind][week] += 1;
  };
  const choose = async (device, choices, at, week) => {
    await setClock(at);
    const r = await fetch(`${API}/v1/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { device_id: device }, choices, policy_version: '2018-05-25', source: 'banner', language: 'en' }),
    });
    assert.equal(r.status, 201, await r.text());
    for (const [purpose, given] of Object.entries(choices)) {
      const before = last.get(`${device}/${purpose}`);
      assert.notEqual(before, given, 'every seeded choice changes something');
      count(purpose, given ? 'given' : before ? 'withdrawn' : 'refused', week);
      last.set(`${device}/${purpose}`, given);
    }
  };
  const device = (w, i) => `dev_${w.toString(16).padStart(4, '0')}${i.toString(16).padStart(12, '0')}`;
  const people = (w) => 2 + ((w * 5) % 4);
  for (let w = 0; w < WEEKS; w++) {
    let at = origin + w * WEEK + DAY;
    for (let i = 0; i < people(w); i++) {
      at += 60_000_000;
      await choose(device(w, i), { analytics: i % 3 !== 2, marketing: i % 2 === 0, advertising: i % 4 === 1 }, at, w);
    }
    // Some change their minds: analytics withdrawn two weeks on, marketing one week on.
    for (let i = 1; w >= 2 && i < people(w - 2); i += 2) {
      if (i % 3 === 2) continue;
      at += 60_000_000;
      await choose(device(w - 2, i), { analytics: false }, at, w);
    }
    if (w >= 1) {
      at += 60_000_000;
      await choose(device(w - 1, 0), { marketing: false }, at, w);
    }
  }
  assert.ok(last.has(`${seededDevice}/analytics`), 'the device the look-up finds was seeded');
  await setClock(start);
}

// ---- The tests, in order: each builds on the one before ------------------------------------

let browser;
const pages = {};

before(async () => {
  await seedConsent();
  browser = await launch();
  for (const who of ['admin', 'dpo', 'viewer']) pages[who] = await newContext(browser);
});

after(async () => {
  await browser?.close();
});

test('a wrong password is refused, the right one signs in', async () => {
  const { page } = pages.admin;
  await page.goto(`${API}/console/overview`);
  assert.equal(new URL(page.url()).pathname, '/console/login', 'sent to sign in first');
  await check(page, 'login');

  const wrong = await signIn(page, 'admin@example.com', 'not the password at all');
  assert.equal(wrong.status(), 401);
  assert.match(await alertText(page), /The address or the password is wrong\./);
  assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not echoed');
  await check(page, 'login-wrong-password');

  const right = await signIn(page, 'admin@example.com');
  assert.equal(right.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/console/overview');
  assert.equal(await page.locator('h1').innerText(), 'Overview');
  const cookie = (await pages.admin.context.cookies()).find((c) => c.name === 'cst_console');
  assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict', 'an HttpOnly, SameSite=Strict session cookie');
});

test("the overview's charts are there with their text alternatives and the recorded figures", async () => {
  const { page } = pages.admin;
  const charts = await page.evaluate(() => [...document.querySelectorAll('main svg[role=img]')].map((svg) => {
    const labels = svg.getAttribute('aria-labelledby').split(' ').map((id) => document.getElementById(id)?.textContent.trim() || '');
    const figure = svg.closest('figure');
    const table = figure?.querySelector('table.figures');
    return {
      firstIsTitle: svg.firstElementChild?.tagName === 'title',
      labels,
      caption: figure?.querySelector('figcaption')?.textContent.trim(),
      tableCaption: table?.querySelector('caption')?.textContent.trim(),
      rows: table ? [...table.querySelectorAll('tbody tr')].map((tr) => [
        tr.querySelector('th').textContent.trim(),
        ...[...tr.querySelectorAll('td')].map((td) => Number(td.textContent)),
      ]) : [],
      bars: svg.querySelectorAll('rect').length,
    };
  }));
  assert.ok(charts.length >= 3, `three kinds of chart: ${charts.length}`);
  for (const c of charts) {
    assert.ok(c.firstIsTitle, 'an svg opens with its <title>');
    assert.ok(c.labels.length === 2 && c.labels.every((l) => l.length > 0), `labelled by its title and description: ${c.labels}`);
    assert.equal(c.caption, c.labels[0], 'the figure is captioned with the title');
    assert.equal(c.tableCaption, c.caption, 'its figures as a table with the same caption');
    assert.ok(c.rows.length > 0 && c.bars === c.rows.length * (c.rows[0].length - 1), 'a bar for every figure in the table');
  }
  const byCaption = (suffix) => charts.find((c) => c.caption.endsWith(suffix)) ?? assert.fail(`no chart …${suffix}`);

  const requests = byCaption('Requests received and completed per week');
  assert.equal(requests.rows.length, WEEKS);
  const sum = (rows, col) => rows.reduce((n, r) => n + r[col], 0);
  assert.equal(sum(requests.rows, 1), 18, 'every request received in the twelve weeks');
  assert.equal(sum(requests.rows, 2), 5, 'every request completed');
  assert.equal(sum(byCaption('Days left to the answer deadline, open requests').rows, 1), 13, 'every open request');

  for (const purpose of Object.keys(expected)) {
    const rows = byCaption(`— ${purpose}`).rows;
    assert.equal(rows.length, WEEKS);
    const { given, refused, withdrawn } = expected[purpose];
    assert.deepEqual(rows.map((r) => r.slice(1)), given.map((g, w) => [g, refused[w], withdrawn[w]]), `${purpose}: given, refused, withdrawn per week`);
  }
  assert.ok(expected.analytics.withdrawn.some((n) => n > 0) && expected.marketing.withdrawn.some((n) => n > 0), 'withdrawals were recorded');
  assert.match(await page.locator('.tiles').innerText(), /13\s+Open requests/);
  await check(page, 'overview');
});

test('every page reads, in English, in German and on a phone', async () => {
  const { page } = pages.admin;
  for (const [href, name, h1] of [
    ['/console/requests', 'requests', 'Requests'],
    [`/console/requests/${REQUEST}`, 'request', REQUEST],
    ['/console/consent', 'consent', 'Consent'],
    ['/console/policy', 'policy', 'Policy'],
    ['/console/datastores', 'datastores', 'Datastores'],
    ['/console/retention', 'retention', 'Retention'],
    ['/console/users', 'users', 'Users and tokens'],
    ['/console/account', 'account', 'Your account'],
  ]) {
    const r = await page.goto(API + href);
    assert.equal(r.status(), 200, href);
    assert.ok((await page.locator('h1').innerText()).includes(h1), `${href}: ${h1}`);
    await check(page, name);
  }

  // A consent look-up (POSTed: no identifier in the URL) and the ledger verified.
  await page.goto(`${API}/console/consent`);
  await page.getByLabel('By', { exact: true }).selectOption('device_id');
  await page.getByLabel('Identifier').fill(seededDevice);
  await submit(page, page.getByRole('button', { name: 'Look up' }));
  assert.ok(!page.url().includes(seededDevice), 'the identifier stays out of the URL');
  assert.ok(await page.getByRole('heading', { name: 'Ledger history' }).isVisible());
  assert.ok((await page.locator('table').nth(1).locator('tbody tr').count()) >= 3, 'the device\'s events');
  await check(page, 'consent-lookup');
  await submit(page, page.getByRole('button', { name: 'Verify the ledger now' }));
  assert.match(await page.locator('[role=status]').innerText(), /^Intact: \d+ events/);
  await check(page, 'consent-ledger-verified');

  // A hold placed and a token created, each through its form.
  await page.goto(`${API}/console/retention`);
  await page.getByLabel('Matter').fill('Smith v. Example Ltd');
  await page.locator('#hold-reason').fill('Litigation hold on order records');
  await submit(page, page.getByRole('button', { name: 'Place a hold' }));
  assert.match(await page.locator('main').innerText(), /Smith v\. Example Ltd/);
  await check(page, 'retention-hold');
  await page.goto(`${API}/console/users`);
  await page.getByLabel('Name', { exact: true }).fill('warehouse sync');
  const created = await submit(page, page.getByRole('button', { name: 'Create a token' }));
  assert.equal(created.status(), 201);
  assert.ok((await page.locator('#new-token').innerText()).length > 20, 'the new token, shown once');
  await check(page, 'users-token-created');

  await page.goto(`${API}/console/overview?lang=de`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'de');
  assert.equal(await page.locator('h1').innerText(), 'Übersicht');
  await check(page, 'overview-de');
  await page.goto(`${API}/console/overview?lang=en`);

  const phone = await newContext(browser, { width: 390, height: 844 });
  await pages.admin.context.cookies().then((c) => phone.context.addCookies(c));
  for (const [href, name] of [['/console/requests', 'requests-phone'], ['/console/overview', 'overview-phone']]) {
    await phone.page.goto(API + href);
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${href} reflows to a phone's width (${overflow}px too wide)`);
    await check(phone.page, name);
  }
  await phone.context.close();
});

test('TOTP: enrolment with a code, then sign-in asks for one', async () => {
  const { page } = pages.admin;
  await page.goto(`${API}/console/account`);
  await submit(page, page.getByRole('button', { name: 'Set up an authenticator app' }));
  assert.ok(await page.locator('svg.qr[role=img]').isVisible(), 'a QR code drawn by the server');
  const key = fromBase32(await page.locator('#totp-key').innerText());
  assert.ok(key.length >= 16, 'an RFC 4226 key of at least 128 bits');
  await check(page, 'account-totp-enrolment');

  await page.getByRole('textbox', { name: 'Code' }).fill(totp(key, await serverNow()));
  await submit(page, page.getByRole('button', { name: 'Verify' }));
  assert.match(await page.locator('[role=status]').innerText(), /The second factor is on\./);
  await submit(page, page.getByRole('button', { name: 'Sign out' }));
  assert.equal(new URL(page.url()).pathname, '/console/login');

  // The next step: a code is accepted once.
  await advance(30);
  await signIn(page, 'admin@example.com');
  assert.equal(new URL(page.url()).pathname, '/console/login');
  assert.equal(await page.getByRole('textbox', { name: 'Code' }).getAttribute('autocomplete'), 'one-time-code');
  await check(page, 'login-totp');
  await page.getByRole('textbox', { name: 'Code' }).fill(totp(key, (await serverNow()) - 600e6));
  const wrong = await submit(page, page.getByRole('button', { name: 'Verify' }));
  assert.equal(wrong.status(), 401, 'a code of ten minutes ago is refused');
  await page.getByRole('textbox', { name: 'Code' }).fill(totp(key, await serverNow()));
  await submit(page, page.getByRole('button', { name: 'Verify' }));
  assert.equal(new URL(page.url()).pathname, '/console/overview');
});

test('a session expires after 30 idle minutes', async () => {
  const { page } = pages.admin;
  await advance(29 * 60);
  assert.equal((await page.goto(`${API}/console/requests`)).status(), 200, 'still active after 29 minutes');
  await advance(31 * 60);
  await page.goto(`${API}/console/requests`);
  assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/console/login?expired=1');
  assert.match(await alertText(page), /Your session expired/);
  await check(page, 'login-expired');
});

test('a form with a forged token, or from another site, changes nothing', async () => {
  const { page } = pages.dpo;
  await signIn(page, 'dpo@example.com');
  await page.goto(`${API}/console/requests/${REQUEST}`);
  const note = page.locator(`form[action$="/note"]`);
  await note.locator('input[name=csrf]').evaluate((input) => { input.value = '1.forged'; });
  await note.getByLabel('Note (internal)').fill('forged note');
  const refused = await submit(page, note.getByRole('button', { name: 'Add a note' }));
  assert.equal(refused.status(), 403);
  assert.match(await alertText(page), /not sent from the console's own page/);
  await check(page, 'refused-csrf');

  // The real token, from a page of another site: the browser keeps the SameSite=Strict
  // session cookie to itself, and the console sees no one signed in.
  await page.goto(`${API}/console/requests/${REQUEST}`);
  const token = await note.locator('input[name=csrf]').inputValue();
  await page.route('http://elsewhere.test/**', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><title>elsewhere</title><form method="post" action="${API}/console/requests/${REQUEST}/note"><input name="csrf" value="${token}"><input name="text" value="cross-site note"><button>Send</button></form>`,
  }));
  await page.goto('http://elsewhere.test/');
  await submit(page, page.getByRole('button', { name: 'Send' }));
  assert.equal(new URL(page.url()).pathname, '/console/login', 'no session came with it');
  await page.goto(`${API}/console/requests/${REQUEST}`);
  const timeline = await page.locator('.timeline').innerText();
  assert.ok(!timeline.includes('forged note') && !timeline.includes('cross-site note'), timeline);
});

test('a viewer reads a request but is refused acting on it', async () => {
  const { page } = pages.viewer;
  await signIn(page, 'viewer@example.com');
  await page.goto(`${API}/console/requests/${REQUEST}`);
  assert.equal(await page.locator('main form').count(), 0, 'no action forms for a viewer');
  assert.match(await page.locator('main').innerText(), /Your role reads only/);
  // The form a DPO would see, posted with the viewer's own valid token.
  const token = await page.locator('header input[name=csrf]').inputValue();
  await page.evaluate(([id, token]) => {
    const f = document.createElement('form');
    f.method = 'post';
    f.action = `/console/requests/${id}/approve`;
    f.innerHTML = `<input type="hidden" name="csrf" value="${token}"><button type="submit">Approve</button>`;
    document.querySelector('main').append(f);
  }, [REQUEST, token]);
  const refused = await submit(page, page.locator('main form button'));
  assert.equal(refused.status(), 403);
  assert.match(await alertText(page), /Your role may not do this\./);
  await check(page, 'refused-role');
  const users = await page.goto(`${API}/console/users`);
  assert.equal(users.status(), 403, 'users and tokens are for admins');
  await page.goto(`${API}/console/requests/${REQUEST}`);
  assert.equal(await page.locator('#status').innerText(), 'verified', 'still as it was');
});

test('a DPO works a request from the queue to completed through the forms', async () => {
  const { page } = pages.dpo;
  await page.goto(`${API}/console/requests`);
  await page.getByLabel('Type', { exact: true }).selectOption('access');
  await page.getByLabel('Jurisdiction').selectOption('uk_gdpr');
  await submit(page, page.getByRole('button', { name: 'Apply' }));
  assert.match(page.url(), /type=access/);
  assert.match(await page.locator('#range').innerText(), /Requests 1–1 of 1/);
  await submit(page, page.getByRole('link', { name: REQUEST }));
  assert.equal(new URL(page.url()).pathname, `/console/requests/${REQUEST}`);

  const done = async (button, action) => {
    const r = await submit(page, page.getByRole('button', { name: button, exact: true }));
    assert.equal(r.status(), 200, `${action}: ${await page.locator('main').innerText()}`);
    assert.ok(page.url().endsWith(`?done=${action}`), `${action}: ${page.url()}`);
  };
  await done('Assign', 'assign');
  await page.getByLabel('Note (internal)').fill('Called the requester to confirm the scope.');
  await done('Add a note', 'note');
  await page.getByLabel('Why').selectOption('awaiting_clarification');
  await done('Pause the clock', 'pause');
  await check(page, 'request-paused');
  await done('Resume the clock', 'resume');
  await page.locator('#extend-reason').fill('Many systems to search.');
  await done('Extend the deadline', 'extend');
  await done('Approve', 'approve');
  if ((await page.locator('#status').innerText()) !== 'completed') await done('Complete', 'complete');
  assert.equal(await page.locator('#status').innerText(), 'completed');
  const timeline = await page.locator('.timeline').innerText();
  assert.match(timeline, /Called the requester to confirm the scope\./);
  assert.ok(await page.getByRole('link', { name: 'Download the export (ZIP)' }).isVisible());
  await check(page, 'request-completed');
});

test('no console page has a serious or critical axe violation', () => {
  const found = [...checked].filter(([, v]) => v.length > 0).map(([name, v]) => `${name}:\n  ${v.join('\n  ')}`);
  assert.deepEqual(found, [], `axe found:\n${found.join('\n')}`);
  const pagesSeen = [...checked.keys()];
  for (const name of ['login', 'login-totp', 'login-expired', 'overview', 'requests', 'request', 'consent', 'policy',
    'datastores', 'retention', 'users', 'account', 'account-totp-enrolment', 'refused-csrf', 'refused-role']) {
    assert.ok(pagesSeen.includes(name), `${name} was checked`);
  }
});
