// Shared set-up for the browser tests: Debian's Chromium driven by playwright-core, the demo
// site served on another origin than Custodian's, and a look into the consent ledger.
//
// Environment (set by crates/cli/tests/browser.rs):
//   CUSTODIAN_URL          a running `custodian serve` with the example policy
//   CUSTODIAN_URL_CHANGED  one whose policy gave analytics and the social widget a new recipient
//                          each, in a new version
//   CUSTODIAN_URL_RESTRICTED  one that allows only https://a.example and https://shop.example
//                          (CUSTODIAN_ALLOWED_ORIGINS, a list of two)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   CUSTODIAN_ARTIFACTS    where screenshots go (default ./test-artifacts)

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const API = process.env.CUSTODIAN_URL;
export const API_CHANGED = process.env.CUSTODIAN_URL_CHANGED;
export const API_RESTRICTED = process.env.CUSTODIAN_URL_RESTRICTED;
export const ARTIFACTS = process.env.CUSTODIAN_ARTIFACTS || path.resolve('test-artifacts');
if (!API) throw new Error('CUSTODIAN_URL is not set: run these tests through `cargo test -p custodian --test browser`');

export const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ARGS });
}

/** The demo page as a site of another origin: `localhost:PORT` loading the banner from `127.0.0.1:PORT`. */
export function siteOf(api) {
  const u = new URL(api);
  return `http://localhost:${u.port}/demo?custodian=${encodeURIComponent(u.origin)}`;
}

/**
 * Opens the demo in a fresh browser context. `gpc` makes the browser signal Global Privacy
 * Control as a browser that supports it does: `navigator.globalPrivacyControl` and `Sec-GPC: 1`.
 */
export async function visit(browser, { gpc = false, locale = 'en-GB', api = API, context, waitReady = true } = {}) {
  context ??= await browser.newContext({
    locale,
    viewport: { width: 1100, height: 800 },
    extraHTTPHeaders: gpc ? { 'Sec-GPC': '1' } : {},
  });
  await context.addInitScript((gpc) => {
    if (gpc) Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });
    // Evidence for the tests: CSP violations and layout shifts, from the first byte on.
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    window.__shift = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value;
    }).observe({ type: 'layout-shift', buffered: true });
  }, gpc);
  const page = await context.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(siteOf(api));
  if (waitReady) await page.evaluate(() => window.custodian.ready);
  return { context, page, requests };
}

export const dialog = (page, name = 'Your privacy choices') => page.getByRole('dialog', { name });

/** The page's layout-shift total, read once the next frame is painted and ~100 ms later. */
export function layoutShift(page) {
  return page.evaluate(() => new Promise((done) => {
    requestAnimationFrame(() => setTimeout(() => done(window.__shift), 100));
  }));
}

/** CSP violations the page has seen since it loaded. */
export const cspViolations = (page) => page.evaluate(() => window.__csp);

/** The banner's cookie, decoded. */
export async function consentCookie(context) {
  const c = (await context.cookies()).find((c) => c.name === 'cst_consent');
  return c && JSON.parse(decodeURIComponent(c.value));
}

/** Waits until the banner has written a choice (it does so once the ledger answered). */
export async function choiceMade(page) {
  await page.waitForFunction(() => document.cookie.includes('cst_consent='));
}

/** What the ledger holds for a device: `{purpose: {given, source, ...}}`. */
export async function ledger(api, deviceId) {
  const r = await fetch(`${api}/v1/consent?device_id=${encodeURIComponent(deviceId)}`);
  const text = await r.text();
  if (r.status !== 200) throw new Error(`GET /v1/consent answered ${r.status}: ${text}`);
  const body = JSON.parse(text);
  return Object.fromEntries(body.purposes.map((p) => [p.purpose, p]));
}

export async function bannerConfig(api, lang = 'en') {
  return (await fetch(`${api}/v1/banner?lang=${lang}`)).json();
}

/** What the stand-ins left behind: which blocked tags ran. */
export function ran(page) {
  return page.evaluate(() => ({
    analytics: window.__analytics || 0,
    pixel: window.__adPixel === true,
    marketing: window.__marketing === true,
    adBox: !!document.getElementById('ad-box'),
    widget: !!document.querySelector('iframe.social[src]'),
  }));
}

export function axeSource() {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
}

/** Runs axe-core in the page and returns its serious and critical violations. */
export async function axe(page) {
  // Evaluated through the DevTools protocol, which a page's CSP does not govern.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource());
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Finished, not mid-way through the banner's slide-in.
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: false, animations: 'disabled' });
}

/** Presses Tab until `pred` holds for the focused element, checking each stop is visible. */
export async function tabTo(page, pred, { max = 25, shift = false } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
    const state = await page.evaluate(() => {
      const a = document.activeElement;
      return {
        id: a.id,
        text: (a.textContent || '').trim(),
        role: a.getAttribute('role'),
        visible: a === document.body || a.checkVisibility(),
        inBanner: !!a.closest('[role=dialog]'),
      };
    });
    if (!state.visible) throw new Error(`focus went to a hidden element: ${JSON.stringify(state)}`);
    if (pred(state)) return state;
  }
  throw new Error('Tab never reached the wanted element');
}
