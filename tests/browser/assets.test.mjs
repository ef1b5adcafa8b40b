// What the banner's endpoints answer over HTTP: content types, caching, CORS, the demo's CSP.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { API, API_RESTRICTED } from './helpers.mjs';

test('banner.js and banner.css are typed, cacheable, revalidated by ETag and open to any origin', async () => {
  for (const [path, type] of [['/banner.js', 'text/javascript'], ['/banner.css', 'text/css']]) {
    const r = await fetch(API + path, { headers: { Origin: 'https://shop.example' } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), new RegExp(`^${type}`));
    assert.match(r.headers.get('cache-control'), /max-age=\d{5,}/);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const etag = r.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    const again = await fetch(API + path, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
  }
  const js = await (await fetch(`${API}/banner.js`)).text();
  assert.doesNotMatch(js, /\beval\(|new Function|<style|innerHTML/, 'nothing a strict CSP forbids');
});

test('/v1/banner answers in the visitor language with what the banner records', async () => {
  const de = await (await fetch(`${API}/v1/banner?lang=de-AT,de;q=0.9,en`)).json();
  assert.equal(de.lang, 'de');
  assert.equal(de.texts.reject_all, 'Alle ablehnen');
  assert.deepEqual(de.purposes.map((p) => p.id), ['marketing', 'analytics', 'advertising']);
  assert.deepEqual(de.widgets.map((p) => p.id), ['social_widgets']);
  for (const p of de.purposes) {
    assert.deepEqual(Object.keys(p).sort(), ['cookies', 'gpc_opt_out', 'id', 'label', 'notice', 'notice_hash']);
    assert.match(p.notice_hash, /^sha256:[0-9a-f]{64}$/);
  }
  // A widget also carries its terms, kept with a choice in the cookie.
  for (const p of de.widgets) {
    assert.deepEqual(Object.keys(p).sort(), ['cookies', 'gpc_opt_out', 'id', 'label', 'notice', 'notice_hash', 'terms']);
    assert.match(p.terms, /^sha256:[0-9a-f]{64}$/);
  }
  assert.equal(de.notice_url, '/privacy');
  const fallback = await (await fetch(`${API}/v1/banner?lang=ja`)).json();
  assert.equal(fallback.lang, 'en', 'the first language when none matches');
  assert.equal(fallback.consent_hash, de.consent_hash, 'one consent hash for every language');

  // The policy's own notice texts and hashes agree with what the banner is given.
  const policy = await (await fetch(`${API}/v1/policy`)).json();
  const analytics = policy.consent_purposes.find((p) => p.id === 'analytics');
  assert.equal(analytics.notice.de.hash, de.purposes[1].notice_hash);
});

test('an allow-list of origins from CUSTODIAN_ALLOWED_ORIGINS is honoured by the banner endpoints', { skip: !API_RESTRICTED && 'CUSTODIAN_URL_RESTRICTED not set' }, async () => {
  // The server was started with CUSTODIAN_ALLOWED_ORIGINS="https://a.example, https://shop.example".
  for (const origin of ['https://a.example', 'https://shop.example']) {
    const ok = await fetch(`${API_RESTRICTED}/v1/banner`, { headers: { Origin: origin } });
    assert.equal(ok.headers.get('access-control-allow-origin'), origin, `${origin} is listed`);
    assert.match(ok.headers.get('vary'), /origin/i);
    // The consent write the banner makes is preflighted; the listed origin passes it too.
    const pre = await fetch(`${API_RESTRICTED}/v1/consent`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), origin, `${origin} may record a choice`);
  }
  // Nothing else passes: not another origin, not a look-alike, not the whole list as one value.
  for (const origin of ['https://evil.example', 'https://shop.example.evil', 'https://a.example, https://shop.example']) {
    const other = await fetch(`${API_RESTRICTED}/v1/banner`, { headers: { Origin: origin } });
    assert.equal(other.headers.get('access-control-allow-origin'), null, `${origin} is not listed`);
  }
});

test('/demo has a strict CSP with a fresh nonce, and takes the banner origin only from this server', async () => {
  const port = new URL(API).port;
  const a = await fetch(`${API}/demo`);
  const b = await fetch(`${API}/demo`);
  const csp = a.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'nonce-[0-9a-f]{32}'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.notEqual(csp, b.headers.get('content-security-policy'), 'a nonce per response');
  const nonce = csp.match(/nonce-([0-9a-f]+)/)[1];
  assert.ok((await a.text()).includes(`nonce="${nonce}"`));

  const other = await (await fetch(`${API}/demo?custodian=${encodeURIComponent(`http://localhost:${port}`)}`)).text();
  assert.ok(other.includes(`src="http://localhost:${port}/banner.js"`));
  const evil = await (await fetch(`${API}/demo?custodian=${encodeURIComponent('https://evil.example')}`)).text();
  assert.ok(evil.includes('src="/banner.js"') && !evil.includes('evil.example'));

  for (const f of ['demo.css', 'demo.js', 'analytics.js', 'ads.js', 'social.html']) {
    assert.equal((await fetch(`${API}/demo/${f}`)).status, 200, f);
  }
  assert.equal((await fetch(`${API}/demo/nope.js`)).status, 404);
});
