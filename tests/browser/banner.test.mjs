// The banner and the demo site in a real browser, against a real `custodian serve`.
// Each test starts from a fresh browser context: a first-time visitor.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  API, API_CHANGED, API_RESTRICTED, axe, bannerConfig, choiceMade, consentCookie, cspViolations, dialog, launch,
  layoutShift, ledger, ran, screenshot, siteOf, tabTo, visit,
} from './helpers.mjs';

const T = { timeout: 60_000 };
let browser;

before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const NOTHING_RAN = { analytics: 0, pixel: false, marketing: false, adBox: false, widget: false };

describe('the banner', () => {
  test('a first visit shows the banner, runs no blocked tag and stays inside the CSP', T, async () => {
    const { context, page, requests } = await visit(browser);
    const d = dialog(page);
    assert.ok(await d.isVisible(), 'the banner is shown');
    assert.match(await page.locator('#' + (await d.getAttribute('aria-describedby'))).innerText(), /only if you agree/);
    assert.equal(await d.evaluate((e) => getComputedStyle(e).position), 'fixed', 'an overlay, not in the flow');
    assert.ok(await page.evaluate(() => !!document.activeElement.closest('[role=dialog]')), 'focus moved into the banner');

    // Accept and Reject are equally prominent.
    const accept = d.getByRole('button', { name: 'Accept all' });
    const reject = d.getByRole('button', { name: 'Reject all' });
    const look = (l) => l.evaluate((e) => {
      const s = getComputedStyle(e);
      const r = e.getBoundingClientRect();
      return [s.backgroundColor, s.color, s.fontSize, s.fontWeight, s.borderWidth, Math.round(r.width), Math.round(r.height)].join();
    });
    assert.equal(await look(accept), await look(reject));
    assert.ok(await d.getByRole('button', { name: 'Choose' }).isVisible());
    const link = d.getByRole('link', { name: 'Privacy notice' });
    assert.equal(await link.getAttribute('href'), `${new URL(API).origin}/privacy`);

    // Escape on the first layer is not a choice: the banner stays and nothing is stored.
    await page.keyboard.press('Escape');
    assert.ok(await d.isVisible());

    assert.deepEqual(await ran(page), NOTHING_RAN);
    assert.deepEqual((await context.cookies()).map((c) => c.name), [], 'no cookie before a choice');
    assert.deepEqual(await cspViolations(page), [], 'no CSP violation');
    assert.equal(await layoutShift(page), 0, 'no layout shift');
    assert.deepEqual(await page.evaluate(() => window.custodian.choices()), {});

    // Only the site and Custodian are ever contacted, and Custodian is another origin here.
    const origins = new Set(requests.map((u) => new URL(u).origin));
    const site = new URL(siteOf(API)).origin;
    assert.deepEqual([...origins].sort(), [new URL(API).origin, site].sort());
    assert.ok(requests.some((u) => u.startsWith(`${API}/v1/banner`)));
    await screenshot(page, 'banner-en.png');
    await context.close();
  });

  test('Reject all runs nothing, sets the cookie, and the ledger holds the refusal; a reload shows no banner', T, async () => {
    const { context, page } = await visit(browser);
    await dialog(page).getByRole('button', { name: 'Reject all' }).click();
    await choiceMade(page);
    await dialog(page).waitFor({ state: 'hidden' });

    const cookie = await consentCookie(context);
    assert.match(cookie.id, /^[0-9a-f]{32}$/, 'a random device id');
    assert.deepEqual(cookie.c, { marketing: false, analytics: false, advertising: false });
    assert.equal(cookie.h, (await bannerConfig(API)).consent_hash);
    assert.equal(cookie.u, 0, 'recorded by the ledger');
    assert.deepEqual(await ran(page), NOTHING_RAN);

    const held = await ledger(API, cookie.id);
    for (const p of ['marketing', 'analytics', 'advertising']) assert.equal(held[p]?.given, false, `${p} refused in the ledger`);

    await page.reload();
    await page.evaluate(() => window.custodian.ready);
    assert.equal(await dialog(page).isVisible(), false, 'no banner after a choice');
    assert.deepEqual(await ran(page), NOTHING_RAN);
    assert.deepEqual(await page.evaluate(() => window.custodian.choices()), cookie.c);
    assert.equal(await layoutShift(page), 0);
    await context.close();
  });

  test('analytics only runs the analytics stand-in and not the pixel', T, async () => {
    const { context, page } = await visit(browser);
    await page.evaluate(() => {
      window.__events = [];
      window.custodian.on('change', (c) => window.__events.push(['on', c]));
      document.addEventListener('custodian:change', (e) => window.__events.push(['event', e.detail]));
    });
    const d = dialog(page);
    await d.getByRole('button', { name: 'Choose' }).click();
    await d.getByRole('switch', { name: 'Analytics' }).check();
    assert.equal(await d.getByRole('switch', { name: 'Social media' }).isVisible(), false, 'a widget never chosen is asked where it sits');
    assert.deepEqual(await cspViolations(page), [], 'no CSP violation in the settings view');
    await screenshot(page, 'banner-settings.png');
    await d.getByRole('button', { name: 'Save choices' }).click();
    await page.waitForFunction(() => window.__analytics === 1);
    await d.waitFor({ state: 'hidden' });

    const r = await ran(page);
    assert.equal(r.pixel, false, 'the pixel did not fire');
    assert.equal(r.adBox, false);
    assert.equal(r.marketing, false);
    assert.match(await page.locator('#analytics-status').innerText(), /running/);
    assert.ok((await context.cookies()).some((c) => c.name === 'cst_analytics'));

    const want = { marketing: false, analytics: true, advertising: false };
    assert.deepEqual(await page.evaluate(() => window.__events), [['on', want], ['event', want]]);
    const cookie = await consentCookie(context);
    assert.deepEqual(cookie.c, want);
    const held = await ledger(API, cookie.id);
    assert.equal(held.analytics.given, true);
    assert.equal(held.advertising.given, false);
    assert.equal(held.analytics.source, 'banner');
    const shown = (await bannerConfig(API, 'en')).purposes.find((p) => p.id === 'analytics');
    assert.equal(held.analytics.notice_hash, shown.notice_hash, 'the ledger names the text that was shown');

    await page.reload();
    await page.evaluate(() => window.custodian.ready);
    await page.waitForFunction(() => window.__analytics === 1);
    assert.equal((await ran(page)).pixel, false);
    assert.equal(await dialog(page).isVisible(), false);
    await context.close();
  });

  test('Accept all runs every blocked tag, the inline one with its nonce, without a CSP exception', T, async () => {
    const { context, page } = await visit(browser);
    await dialog(page).getByRole('button', { name: 'Accept all' }).click();
    await page.waitForFunction(() => window.__analytics === 1 && window.__adPixel && window.__marketing);
    const r = await ran(page);
    assert.equal(r.adBox, true, 'the advertising template was stamped');
    assert.equal(r.widget, false, 'the social widget still waits for its own click');
    assert.deepEqual(await cspViolations(page), []);
    assert.equal(await layoutShift(page), 0);
    await context.close();
  });

  test('Global Privacy Control turns advertising off and the banner says so', T, async () => {
    const { context, page } = await visit(browser, { gpc: true });
    const d = dialog(page);
    const note = d.getByRole('status');
    assert.match(await note.innerText(), /Global Privacy Control signal was honoured/);
    await screenshot(page, 'banner-gpc.png');

    const answer = page.waitForResponse((r) => r.url().endsWith('/v1/consent') && r.request().method() === 'POST');
    await d.getByRole('button', { name: 'Accept all' }).click();
    const body = await (await answer).json();
    assert.equal(body.gpc_honoured, true, 'the server saw Sec-GPC');
    await page.waitForFunction(() => window.__analytics === 1);
    assert.equal((await ran(page)).pixel, false, 'no advertising under GPC');
    const cookie = await consentCookie(context);
    assert.deepEqual(cookie.c, { marketing: true, analytics: true, advertising: false });
    const held = await ledger(API, cookie.id);
    assert.equal(held.advertising.given, false);
    assert.equal(held.advertising.source, 'gpc', 'the ledger names the signal as the source of the refusal');
    assert.equal(held.analytics.given, true);

    // The settings show advertising off, and it cannot be switched on: the server would
    // refuse it anyway. The reason, from the policy's texts, is tied to the switch.
    await page.getByRole('button', { name: 'Cookie settings' }).first().click();
    const ads = d.getByRole('switch', { name: 'Advertising' });
    assert.equal(await ads.isChecked(), false);
    assert.equal(await ads.isDisabled(), true, 'the advertising switch is disabled under GPC');
    assert.equal(await d.getByRole('switch', { name: 'Analytics' }).isDisabled(), false);
    const why = await ads.evaluate((e) => e.getAttribute('aria-describedby').split(' ').map((id) => document.getElementById(id).textContent));
    assert.match(why[1], /Off while your browser sends a Global Privacy Control signal/);
    await screenshot(page, 'banner-gpc-settings.png');
    // A widget of a purpose the signal opts out of says why instead of offering to load.
    const holder = page.locator('.cst-w');
    assert.match(await holder.innerText(), /Off while your browser sends a Global Privacy Control signal/);
    assert.equal(await holder.getByRole('button').count(), 0);
    assert.deepEqual(await cspViolations(page), []);
    await context.close();
  });

  test('withdrawing deletes the purpose cookies, wildcards included, and reloads', T, async () => {
    const { context, page } = await visit(browser);
    await dialog(page).getByRole('button', { name: 'Accept all' }).click();
    await page.waitForFunction(() => window.__analytics === 1 && window.__adPixel);
    await context.addCookies([
      { name: '_ga', value: 'GA1.1', domain: 'localhost', path: '/' },
      { name: '_ga_ABC123', value: 'GS1.1', domain: 'localhost', path: '/' },
    ]);
    await page.getByRole('button', { name: 'Cookie settings' }).first().click();
    const d = dialog(page);
    await d.getByRole('switch', { name: 'Analytics' }).uncheck();
    assert.deepEqual(await cspViolations(page), [], 'no CSP violation before the withdrawal');
    await Promise.all([page.waitForEvent('load'), d.getByRole('button', { name: 'Save choices' }).click()]);
    await page.evaluate(() => window.custodian.ready);
    await page.waitForFunction(() => window.__adPixel);

    const names = (await context.cookies()).map((c) => c.name);
    for (const gone of ['_ga', '_ga_ABC123', 'cst_analytics']) assert.ok(!names.includes(gone), `${gone} deleted`);
    assert.ok(names.includes('cst_ads'), 'advertising, still accepted, keeps its cookie');
    const r = await ran(page);
    assert.equal(r.analytics, 0, 'analytics no longer runs');
    assert.equal(r.pixel, true);
    const cookie = await consentCookie(context);
    assert.equal(cookie.c.analytics, false);
    assert.equal((await ledger(API, cookie.id)).analytics.given, false);
    assert.deepEqual(await cspViolations(page), [], 'no CSP violation after the reload');
    await context.close();
  });

  test('a social widget loads on click and its consent is recorded from the widget', T, async () => {
    const { context, page } = await visit(browser);
    await dialog(page).getByRole('button', { name: 'Reject all' }).click();
    await choiceMade(page);
    const holder = page.locator('.cst-w');
    assert.match(await holder.innerText(), /provided by a social network/);
    await holder.scrollIntoViewIfNeeded();
    await screenshot(page, 'widget-placeholder.png');
    await holder.getByRole('button', { name: 'Load: Social media' }).click();
    await page.waitForFunction(() => !!document.querySelector('iframe.social[src]'));
    const frame = page.frameLocator('iframe.social');
    assert.match(await frame.locator('#social-post').innerText(), /Launchkey MK4/);
    assert.equal(await holder.count(), 0, 'the placeholder is gone');

    const cookie = await consentCookie(context);
    assert.equal(cookie.c.social_widgets, true);
    assert.equal(cookie.c.analytics, false, 'other choices kept');
    const held = await ledger(API, cookie.id);
    assert.equal(held.social_widgets.given, true);
    assert.equal(held.social_widgets.source, 'widget');

    assert.deepEqual(await cspViolations(page), [], 'no CSP violation in the widget flow');

    await page.reload();
    await page.evaluate(() => window.custodian.ready);
    assert.equal((await ran(page)).widget, true, 'loads straight away next time');
    assert.deepEqual(await cspViolations(page), []);
    await context.close();
  });

  test('a social widget accepted on the page is withdrawn in the settings', T, async () => {
    const { context, page } = await visit(browser);
    await dialog(page).getByRole('button', { name: 'Reject all' }).click();
    await choiceMade(page);
    await page.locator('.cst-w').getByRole('button', { name: 'Load: Social media' }).click();
    await page.waitForFunction(() => !!document.querySelector('iframe.social[src]'));
    await context.addCookies([
      { name: 'fr', value: '1', domain: 'localhost', path: '/' },
      { name: 'datr', value: '1', domain: 'localhost', path: '/' },
    ]);

    await page.getByRole('button', { name: 'Cookie settings' }).first().click();
    const d = dialog(page);
    const social = d.getByRole('switch', { name: 'Social media' });
    assert.equal(await social.isChecked(), true, 'the widget has its switch, on');
    await social.uncheck();
    assert.deepEqual(await cspViolations(page), []);
    await Promise.all([page.waitForEvent('load'), d.getByRole('button', { name: 'Save choices' }).click()]);
    await page.evaluate(() => window.custodian.ready);

    assert.equal((await ran(page)).widget, false, 'the widget is gone');
    assert.equal(await page.locator('.cst-w').count(), 1, 'its placeholder asks again');
    const names = (await context.cookies()).map((c) => c.name);
    for (const gone of ['fr', 'datr']) assert.ok(!names.includes(gone), `${gone} deleted`);
    const cookie = await consentCookie(context);
    assert.equal(cookie.c.social_widgets, false);
    const held = await ledger(API, cookie.id);
    assert.equal(held.social_widgets.given, false, 'the ledger holds the withdrawal');
    assert.equal(held.social_widgets.source, 'banner');
    assert.deepEqual(await cspViolations(page), [], 'no CSP violation after the reload');
    await context.close();
  });

  test('a widget clicked before the banner is answered leaves the banner asking', T, async () => {
    const { context, page } = await visit(browser);
    await page.locator('.cst-w').getByRole('button').click();
    await page.waitForFunction(() => !!document.querySelector('iframe.social[src]'));
    assert.ok(await dialog(page).isVisible(), 'the banner still asks');
    assert.deepEqual(await cspViolations(page), []);
    await page.reload();
    await page.evaluate(() => window.custodian.ready);
    assert.ok(await dialog(page).isVisible(), 'and asks again after a reload');
    assert.equal((await ran(page)).widget, true, 'while the widget choice holds');
    await context.close();
  });

  test('a new recipient of analytics in a new policy version asks again', { ...T, skip: !API_CHANGED && 'CUSTODIAN_URL_CHANGED not set' }, async () => {
    const { context, page } = await visit(browser);
    await dialog(page).getByRole('button', { name: 'Accept all' }).click();
    await page.waitForFunction(() => window.__analytics === 1);
    const before = await consentCookie(context);

    // The same site (cookies ignore ports) now embeds a Custodian whose policy changed.
    const changed = await bannerConfig(API_CHANGED);
    assert.notEqual(changed.consent_hash, before.h);
    assert.notEqual(changed.version, (await bannerConfig(API)).version);
    await page.goto(siteOf(API_CHANGED));
    await page.evaluate(() => window.custodian.ready);
    const d = dialog(page);
    assert.ok(await d.isVisible(), 'the banner asks again');
    assert.deepEqual(await ran(page), NOTHING_RAN, 'old consent does not cover the new recipient');
    await d.getByRole('button', { name: 'Choose' }).click();
    assert.equal(await d.getByRole('switch', { name: 'Analytics' }).isChecked(), true, 'earlier choices pre-filled');
    await d.getByRole('button', { name: 'Reject all' }).click();
    await choiceMade(page);
    await d.waitFor({ state: 'hidden' });
    const after = await consentCookie(context);
    assert.equal(after.h, changed.consent_hash);
    assert.equal(after.id, before.id, 'the same device');
    assert.equal(after.v, changed.version);
    const held = await ledger(API_CHANGED, after.id);
    assert.equal(held.analytics.given, false);
    assert.equal(held.analytics.policy_version, changed.version);
    await context.close();
  });

  test('a widget whose terms changed in a new policy version is asked for again where it sits', { ...T, skip: !API_CHANGED && 'CUSTODIAN_URL_CHANGED not set' }, async () => {
    const { context, page } = await visit(browser);
    await dialog(page).getByRole('button', { name: 'Reject all' }).click();
    await choiceMade(page);
    await page.locator('.cst-w').getByRole('button', { name: 'Load: Social media' }).click();
    await page.waitForFunction(() => !!document.querySelector('iframe.social[src]'));
    const before = await consentCookie(context);
    const terms = (await bannerConfig(API)).widgets[0].terms;
    assert.equal(before.w.social_widgets, terms, 'the choice keeps the terms it was made under');

    const changed = await bannerConfig(API_CHANGED);
    assert.notEqual(changed.widgets[0].terms, terms);
    await page.goto(siteOf(API_CHANGED));
    await page.evaluate(() => window.custodian.ready);
    assert.equal((await ran(page)).widget, false, 'the old choice does not cover the new recipient');
    assert.equal(await page.locator('.cst-w').count(), 1, 'the placeholder asks again');
    await page.locator('.cst-w').getByRole('button', { name: 'Load: Social media' }).click();
    await page.waitForFunction(() => !!document.querySelector('iframe.social[src]'));
    assert.equal((await consentCookie(context)).w.social_widgets, changed.widgets[0].terms);
    assert.deepEqual(await cspViolations(page), []);
    await context.close();
  });

  test('the whole path works by keyboard alone', T, async () => {
    const { context, page } = await visit(browser);
    const d = dialog(page);
    const focusRing = () => page.evaluate(() => {
      const s = getComputedStyle(document.activeElement);
      return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    });

    let at = await tabTo(page, (s) => s.text === 'Choose');
    assert.ok(at.inBanner);
    assert.ok(await focusRing(), 'visible focus');
    await page.keyboard.press('Enter');
    at = await tabTo(page, (s) => s.id === 'cst-analytics', { max: 6 });
    assert.equal(at.role, 'switch');
    assert.ok(await focusRing());
    await page.keyboard.press('Space');
    assert.equal(await d.getByRole('switch', { name: 'Analytics' }).isChecked(), true);

    // Escape leaves the settings for the first layer, focus on Choose, nothing decided.
    await page.keyboard.press('Escape');
    assert.ok(await d.isVisible());
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Choose');
    assert.equal(await consentCookie(context), undefined);

    await page.keyboard.press('Enter');
    await tabTo(page, (s) => s.id === 'cst-analytics', { max: 6 });
    await page.keyboard.press('Space');
    await tabTo(page, (s) => s.text === 'Save choices', { max: 6 });
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.__analytics === 1);
    await d.waitFor({ state: 'hidden' });

    // Reopen from the page's own button; focus goes back to it when the banner closes.
    await page.evaluate(() => document.activeElement.blur());
    await tabTo(page, (s) => s.text === 'Cookie settings');
    await page.keyboard.press('Enter');
    await d.waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'cst-marketing');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cookie settings', 'focus restored');

    const cookie = await consentCookie(context);
    assert.deepEqual(cookie.c, { marketing: false, analytics: true, advertising: false });
    assert.equal((await ledger(API, cookie.id)).analytics.given, true);
    await context.close();
  });

  test('custodian.open() shows the settings, and a page link focused under the banner is moved into view', T, async () => {
    const { context, page } = await visit(browser);
    const d = dialog(page);

    // With the banner open and the page scrolled so that its last link, in the footer, sits
    // under the banner (visible to the browser, so it would not scroll by itself), Shift+Tab
    // leaves the banner backwards for that link, and the banner moves it into view.
    const under = await page.evaluate(() => {
      const link = [...document.querySelectorAll('footer a')].pop();
      window.scrollBy(0, link.getBoundingClientRect().bottom - (innerHeight - 20));
      return link.getBoundingClientRect().bottom > document.querySelector('[role=dialog]').getBoundingClientRect().top;
    });
    assert.ok(under, 'the footer link starts under the banner');
    const at = await tabTo(page, (s) => s.text === 'Privacy notice' && !s.inBanner, { shift: true, max: 4 });
    assert.equal(at.inBanner, false);
    const place = await page.evaluate(() => {
      const link = document.activeElement.getBoundingClientRect();
      const banner = document.querySelector('[role=dialog]').getBoundingClientRect();
      return { bottom: link.bottom, top: link.top, bannerTop: banner.top, inFooter: !!document.activeElement.closest('footer') };
    });
    assert.ok(place.inFooter, 'the footer link');
    assert.ok(place.top >= 0 && place.bottom <= place.bannerTop, `not covered by the banner: ${JSON.stringify(place)}`);

    await d.getByRole('button', { name: 'Reject all' }).click();
    await choiceMade(page);
    await d.waitFor({ state: 'hidden' });

    await page.evaluate(() => window.custodian.open());
    assert.ok(await d.isVisible(), 'the banner opens');
    assert.ok(await d.getByRole('switch', { name: 'Analytics' }).isVisible(), 'at its settings');
    assert.ok(await d.getByRole('button', { name: 'Save choices' }).isVisible());
    assert.equal(await d.getByRole('button', { name: 'Choose' }).isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'cst-marketing', 'focus on the first switch');
    assert.equal(await d.getByRole('switch', { name: 'Analytics' }).isChecked(), false, 'the choice made is shown');
    assert.deepEqual(await cspViolations(page), []);
    await context.close();
  });

  test('German visitors get the German texts', T, async () => {
    const { context, page } = await visit(browser, { locale: 'de-DE' });
    const d = dialog(page, 'Ihre Datenschutz-Einstellungen');
    assert.ok(await d.isVisible());
    assert.equal(await d.getAttribute('lang'), 'de');
    assert.ok(await d.getByRole('button', { name: 'Alle ablehnen' }).isVisible());
    await screenshot(page, 'banner-de.png');
    await d.getByRole('button', { name: 'Alle ablehnen' }).click();
    await choiceMade(page);
    const held = await ledger(API, (await consentCookie(context)).id);
    assert.equal(held.analytics.given, false);
    const shown = (await bannerConfig(API, 'de')).purposes.find((p) => p.id === 'analytics');
    assert.equal(held.analytics.notice_hash, shown.notice_hash, 'the German text is the one recorded');
    await context.close();
  });

  test('a site that is not an allowed origin gets no banner and runs nothing', { ...T, skip: !API_RESTRICTED && 'CUSTODIAN_URL_RESTRICTED not set' }, async () => {
    const { context, page } = await visit(browser, { api: API_RESTRICTED, waitReady: false });
    await assert.rejects(page.evaluate(() => window.custodian.ready), 'the configuration is refused by CORS');
    assert.equal(await dialog(page).count(), 0);
    assert.deepEqual(await ran(page), NOTHING_RAN);
    await context.close();
  });

  test('axe-core finds no serious or critical violation in the banner or the demo', T, async () => {
    const { context, page } = await visit(browser);
    assert.deepEqual(await axe(page), [], 'first layer');
    await dialog(page).getByRole('button', { name: 'Choose' }).click();
    assert.deepEqual(await axe(page), [], 'settings');
    await dialog(page).getByRole('button', { name: 'Reject all' }).click();
    await choiceMade(page);
    assert.deepEqual(await axe(page), [], 'after the choice, with the widget placeholder');
    await context.close();

    const gpc = await visit(browser, { gpc: true, locale: 'de-DE' });
    assert.deepEqual(await axe(gpc.page), [], 'German, with the GPC note');
    await dialog(gpc.page, 'Ihre Datenschutz-Einstellungen').getByRole('button', { name: 'Auswählen' }).click();
    assert.match(await gpc.page.locator('#cst-g-advertising').innerText(), /solange Ihr Browser ein Global-Privacy-Control-Signal sendet/);
    assert.deepEqual(await axe(gpc.page), [], 'German settings, with a switch GPC keeps off');
    await gpc.context.close();
  });
});
