// The privacy centre in a real browser, against a real `custodian serve`: the keyboard-only
// path through the consents page (the choice reaches the ledger), forms that work with
// JavaScript switched off, an axe-core scan of every page in English and German, and
// screenshots kept in test-artifacts/.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { API, axe, launch, ledger, screenshot, tabTo } from './helpers.mjs';

const T = { timeout: 60_000 };
let browser;

before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** A fresh visitor; `device` gives them the banner's cookie with that device id. */
async function visitor({ locale = 'en-GB', device, javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ locale, javaScriptEnabled, viewport: { width: 1100, height: 900 } });
  if (device) {
    const value = encodeURIComponent(JSON.stringify({ id: device, h: 'x', v: '2018-05-25', c: {}, u: 0 }));
    await context.addCookies([{ name: 'cst_consent', value, url: API }]);
  }
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  return { context, page };
}

const focusRing = (page) => page.evaluate(() => {
  const s = getComputedStyle(document.activeElement);
  return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
});

describe('the privacy centre', () => {
  test('a keyboard alone changes a consent, and the ledger holds it', T, async () => {
    const device = randomBytes(16).toString('hex');
    const { context, page } = await visitor({ device });
    await page.goto(`${API}/privacy-center/consents`);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.locator('script').count(), 0, 'no script at all');

    // The first stop is the skip link; it takes focus to the content.
    const skip = await tabTo(page, () => true, { max: 1 });
    assert.equal(skip.text, 'Skip to the content');
    assert.ok(await focusRing(page), 'focus is visible on the skip link');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');

    // On to analytics in this browser's form, choose yes, then save — keys only.
    await tabTo(page, (s) => s.id === 'device-analytics-yes', { max: 40 });
    assert.ok(await focusRing(page), 'focus is visible on the radio');
    await page.keyboard.press('Space');
    assert.ok(await page.isChecked('#device-analytics-yes'));
    const save = await tabTo(page, (s) => s.text === 'Save my choices', { max: 40 });
    assert.ok(save);
    assert.ok(await focusRing(page), 'focus is visible on the button');
    await Promise.all([page.waitForURL(/saved=1/), page.keyboard.press('Enter')]);

    assert.match(await page.getByRole('status').innerText(), /Your choices were saved/);
    assert.ok(await page.isChecked('#device-analytics-yes'), 'the page shows the new state');
    const held = await ledger(API, device);
    assert.equal(held.analytics.given, true);
    assert.equal(held.analytics.source, 'privacy_center');
    assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no CSP violation');
    await screenshot(page, 'privacy-center-consents.png');
    await context.close();
  });

  test('forms work with JavaScript switched off', T, async () => {
    const { context, page } = await visitor({ javaScriptEnabled: false });
    await page.goto(`${API}/privacy-center/requests`);
    await page.getByLabel('Give me a copy of my data').check();
    await page.getByLabel('E-mail address').fill('nojs@example.com');
    await page.getByLabel(/Where do you live/).selectOption('DE');
    await Promise.all([page.waitForURL(/\/privacy-center\/verify\?request=req_/), page.getByRole('button', { name: 'Send my request' }).click()]);
    assert.match(await page.locator('h1').innerText(), /Confirm your request/);
    assert.ok(await page.getByLabel('Code from the e-mail').isVisible());

    // A consent saved with no banner cookie creates one, as the banner would.
    await page.goto(`${API}/privacy-center/consents`);
    await page.locator('#device-marketing-no').check();
    await Promise.all([page.waitForURL(/saved=1/), page.locator('#device button[type=submit]').click()]);
    const cookie = (await context.cookies()).find((c) => c.name === 'cst_consent');
    const state = JSON.parse(decodeURIComponent(cookie.value));
    assert.equal(state.c.marketing, false);
    assert.equal((await ledger(API, state.id)).marketing.source, 'privacy_center');
    await context.close();
  });

  test('axe-core finds no serious or critical violation on any page', T, async () => {
    const device = randomBytes(16).toString('hex');
    for (const locale of ['en-GB', 'de-DE']) {
      const { context, page } = await visitor({ locale, device });
      for (const path of ['/privacy-center', '/privacy-center/consents', '/privacy-center/requests', '/privacy-center/unsubscribe', '/privacy-center/sign-in', '/privacy-center/verify?request=req_00ff&code=123456']) {
        await page.goto(`${API}${path}`);
        assert.equal(await page.getAttribute('html', 'lang'), locale.slice(0, 2), path);
        assert.deepEqual(await axe(page), [], `${locale} ${path}`);
        assert.deepEqual(await page.evaluate(() => window.__csp), [], `${path}: no CSP violation`);
      }
      // An error, as a person sees it.
      await page.goto(`${API}/privacy-center/requests`);
      // The browser's own check would stop this address; the server's answer is what we test.
      await page.locator('form.request').evaluate((f) => { f.noValidate = true; });
      await page.getByLabel(/E-Mail-Adresse|E-mail address/).fill('x@');
      await page.locator('#kind-access').check();
      await page.locator('form.request button').click();
      await page.waitForLoadState();
      assert.ok(await page.getByRole('alert').isVisible());
      assert.deepEqual(await axe(page), [], `${locale} the form with an error`);
      if (locale === 'en-GB') {
        await page.goto(`${API}/privacy-center`);
        await screenshot(page, 'privacy-center.png');
        await page.goto(`${API}/privacy-center/requests`);
        await screenshot(page, 'privacy-center-requests.png');
      }
      await context.close();
    }
  });
});
