/*! Custodian consent banner. One tag: <script src="https://CUSTODIAN/banner.js" defer></script>.
 * Served as written (no build step). It talks to its own origin only, injects no style element and
 * evaluates no strings, so a strict Content-Security-Policy holds. Docs: docs/banner.md. */
(function (w, d) {
  'use strict';
  var me = d.currentScript || d.querySelector('script[src*="banner.js"]');
  var base = new URL(me.src, location.href).origin;
  var nav = navigator, gpc = nav.globalPrivacyControl === true;
  var CK = 'cst_consent', AGE = 15552000; // the choice is kept 180 days
  var cfg, st, cur = {}, fresh = false, box, set, btns = {}, last, fns = [];

  // h('tag', {prop or aria-/role/data- attribute}, ...children) builds an element.
  function h(tag, props) {
    var e = d.createElement(tag), k, v;
    for (k in props) {
      v = props[k];
      if (/^(aria-|data-|role$)/.test(k)) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (k = 2; k < arguments.length; k++) if (arguments[k]) e.append(arguments[k]);
    return e;
  }
  function all(sel) { return [].slice.call(d.querySelectorAll(sel)); }
  function api(path, body) {
    var o = body ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {};
    // Browsers drop Sec-* headers set by scripts and send Sec-GPC themselves; asking costs nothing.
    if (body && gpc) o.headers['Sec-GPC'] = '1';
    return fetch(base + path, o).then(function (r) {
      if (!r.ok) throw Error(r.status);
      return r.json();
    });
  }

  function read() {
    var m = d.cookie.match(/(?:^|; )cst_consent=([^;]*)/);
    try { var s = m && JSON.parse(decodeURIComponent(m[1])); return s && s.c && s.id ? s : null; } catch (e) { return null; }
  }
  function write(s) {
    d.cookie = CK + '=' + encodeURIComponent(JSON.stringify(s)) + ';path=/;max-age=' + AGE +
      ';samesite=lax' + (location.protocol == 'https:' ? ';secure' : '');
  }
  function newId() {
    return [].map.call(crypto.getRandomValues(new Uint8Array(16)), function (b) {
      return (b + 256).toString(16).slice(1);
    }).join('');
  }
  function purposes() { return cfg.purposes.concat(cfg.widgets || []); }
  function byId(id) { return purposes().filter(function (p) { return p.id == id; })[0]; }

  // Deletes the cookies a withdrawn purpose declared, `_ga_*` style wildcards included, on
  // this host and each parent domain a script could have used.
  function drop(pats) {
    var parts = location.hostname.split('.'), doms = [''], i;
    for (i = 0; i < parts.length - 1; i++) doms.push(';domain=.' + parts.slice(i).join('.'));
    d.cookie.split(/; */).forEach(function (c) {
      var n = c.split('=')[0];
      if (pats.some(function (p) { return p.slice(-1) == '*' ? n.indexOf(p.slice(0, -1)) == 0 : n == p; }))
        doms.forEach(function (m) { d.cookie = n + '=;max-age=0;path=/' + m; });
    });
  }

  // Runs what a purpose blocked: inert scripts become real ones (nonce and attributes carried
  // over), `data-src` becomes `src`, templates are stamped in place.
  function activate(el) {
    var n, a, i;
    if (el.tagName == 'SCRIPT') {
      if (el.type != 'text/plain') return;
      n = d.createElement('script');
      for (i = 0; i < el.attributes.length; i++) {
        a = el.attributes[i];
        if (a.name != 'type') n.setAttribute(a.name == 'data-type' ? 'type' : a.name, a.value);
      }
      n.nonce = el.nonce;
      if (!el.src) n.text = el.text;
      el.replaceWith(n);
    } else if (el.tagName == 'TEMPLATE') {
      el.replaceWith(d.importNode(el.content, true));
    } else if (el.dataset.src) {
      el.src = el.dataset.src;
      el.removeAttribute('data-src');
    }
  }

  function apply() {
    all('[data-purpose]').forEach(function (el) {
      var id = el.dataset.purpose, p = byId(id);
      if (cur[id] === true) {
        activate(el);
        all('[data-cst-for="' + id + '"]').forEach(function (x) { x.remove(); });
      } else if (p && cfg.widgets.indexOf(p) >= 0 && el.tagName != 'SCRIPT' && !el.cstHold) {
        el.cstHold = 1;
        holder(el, p);
      }
    });
  }

  // Click-to-load: a purpose outside the banner (a social widget) is asked for where it sits.
  // Under GPC a purpose the signal opts out of cannot be loaded: the placeholder says why.
  function holder(el, p) {
    var b = h('button', { type: 'button', className: 'cst-btn', textContent: cfg.texts.load + ': ' + p.label });
    b.onclick = function () {
      decide(fill({}, [p.id], true), 'widget').then(function () { if (el.isConnected) el.focus(); });
    };
    el.before(h('div', { className: 'cst-w', lang: cfg.lang, 'data-cst-for': p.id }, h('p', { textContent: p.notice }),
      locked(p) ? h('p', { textContent: cfg.texts.gpc_locked }) : b));
  }
  // A purpose the browser's Global Privacy Control signal keeps off (the server refuses a yes).
  function locked(p) { return gpc && p.gpc_opt_out; }
  // The purposes the settings answer for: the banner's, and each widget's once chosen (a widget
  // never chosen is still asked where it sits).
  function shown() {
    return purposes().filter(function (p) { return cfg.purposes.indexOf(p) >= 0 || p.id in cur; });
  }

  function fill(c, ids, v) {
    ids.forEach(function (id) { c[id] = v; });
    return c;
  }

  function emit() {
    var c = choices();
    fns.forEach(function (f) { try { f(c); } catch (e) { setTimeout(function () { throw e; }); } });
    d.dispatchEvent(new CustomEvent('custodian:change', { detail: c }));
  }

  // Records a choice, keeps it in the cookie, then runs what was accepted or, when something
  // was withdrawn, deletes that purpose's cookies and reloads so its scripts stop.
  function decide(c, source) {
    var next = {}, k, gone = [], withdrawn, banner = source != 'widget', old = (st && st.c) || {}, w = {};
    for (k in cur) next[k] = cur[k];
    for (k in c) next[k] = c[k];
    // A widget's choice holds while the terms it was made under do (`w`), as in the ledger.
    cfg.widgets.forEach(function (p) { if (p.id in next) w[p.id] = p.terms; });
    // A widget's click answers for that widget only: the banner still asks for the rest.
    st = { id: (st && st.id) || newId(), h: banner || fresh ? cfg.consent_hash : st && st.h, v: cfg.version, c: next, w: w, u: 1 };
    return record(c, source).then(function () {
      for (k in old) if (old[k] && !next[k]) { withdrawn = withdrawn || cur[k]; gone = gone.concat((byId(k) || {}).cookies || []); }
      drop(gone);
      write(st);
      fresh = fresh || banner;
      cur = next;
      if (withdrawn) { emit(); location.reload(); return; }
      if (banner) close();
      apply();
      emit();
    });
  }
  function record(c, source) {
    return api('/v1/consent', {
      subject: { device_id: st.id }, choices: c, policy_version: cfg.version, source: source, language: cfg.lang
    }).then(function (r) {
      st.u = 0;
      // The server forced the GPC opt-outs off; keep the page in step with the ledger.
      if (r.gpc_honoured) purposes().forEach(function (p) { if (p.gpc_opt_out && p.id in c) st.c[p.id] = false; });
    }, function () { /* kept locally with u=1 and sent again on the next page */ });
  }

  function build() {
    var t = cfg.texts;
    function btn(a, text) { return (btns[a] = h('button', { type: 'button', className: 'cst-btn', textContent: text, 'data-a': a })); }
    set = h('div', { className: 'cst-set', hidden: true });
    // One switch per banner purpose and per widget, so that a widget's consent can be withdrawn
    // here too. A switch GPC keeps off is disabled, with the policy's reason next to it.
    purposes().forEach(function (p) {
      var id = 'cst-' + p.id, l = locked(p);
      set.append(h('div', { className: 'cst-p', id: id + '-row' },
        h('input', { type: 'checkbox', id: id, name: p.id, role: 'switch', disabled: l, 'aria-describedby': 'cst-n-' + p.id + (l ? ' cst-g-' + p.id : '') }),
        h('label', { htmlFor: id, textContent: p.label }),
        h('p', { id: 'cst-n-' + p.id, textContent: p.notice }),
        l && h('p', { id: 'cst-g-' + p.id, textContent: t.gpc_locked })));
    });
    // Notices before changes (a new policy version, a change of control), until their date.
    var ntc = h('div', { className: 'cst-ntc' });
    (cfg.notices || []).forEach(function (n) {
      ntc.append(h('p', { role: 'note' }, h('strong', { textContent: n.title }), ' ' + n.body));
    });
    box = h('div', { className: 'cst', role: 'dialog', 'aria-labelledby': 'cst-t', 'aria-describedby': 'cst-d', lang: cfg.lang, tabIndex: -1, hidden: true },
      h('h2', { id: 'cst-t', textContent: t.banner_title }),
      h('p', { id: 'cst-d' }, t.banner_body + ' ',
        h('a', { href: base + cfg.notice_url, target: '_blank', rel: 'noopener', textContent: t.notice_link })),
      gpc && h('p', { className: 'cst-gpc', role: 'status', textContent: t.gpc_honoured }),
      ntc,
      set,
      h('div', { className: 'cst-bs' }, btn('reject', t.reject_all), btn('accept', t.accept_all), btn('choose', t.choose), btn('save', t.save)));
    box.onclick = function (e) {
      var a = e.target.getAttribute('data-a'), ps = shown();
      if (a == 'choose') view(true);
      if (a == 'reject') decide(fill({}, ps.map(function (p) { return p.id; }), false), 'banner');
      // With GPC on, the purposes it opts out of stay off: "accept all" leaves them off and their
      // switches are disabled, since the server records a refusal with source `gpc` whatever is
      // sent (issue 3: the signal wins over a yes).
      if (a == 'accept') decide(ps.reduce(function (c, p) { c[p.id] = !locked(p); return c; }, {}), 'banner');
      if (a == 'save') decide(ps.reduce(function (c, p) { c[p.id] = d.getElementById('cst-' + p.id).checked; return c; }, {}), 'banner');
    };
    box.onkeydown = function (e) {
      if (e.key != 'Escape') return;
      // Escape leaves the settings; on the first layer it closes only a banner opened again
      // by someone who already chose: it never counts as a choice.
      if (!set.hidden) view(false, btns.choose); else if (fresh) close();
    };
    d.body.append(box);
  }

  function view(settings, focus) {
    set.hidden = !settings;
    btns.choose.hidden = settings;
    btns.save.hidden = !settings;
    var ps = shown();
    purposes().forEach(function (p) {
      d.getElementById('cst-' + p.id + '-row').hidden = ps.indexOf(p) < 0;
      d.getElementById('cst-' + p.id).checked = !locked(p) && (cur[p.id] === true || (!fresh && !!st && st.c[p.id] === true));
    });
    (focus || (settings ? set.querySelector('input:enabled') : box)).focus();
  }

  function open(settings) {
    if (!box) build();
    if (box.hidden) last = d.activeElement;
    box.hidden = false;
    view(!!settings);
  }
  function close() {
    if (!box || box.hidden) return;
    box.hidden = true;
    if (last && last.focus && last != d.body && last.isConnected) last.focus();
  }
  function choices() {
    var c = {}, k;
    for (k in cur) c[k] = cur[k];
    return c;
  }

  // Keeps a page element that gets keyboard focus from sitting under the banner.
  d.addEventListener('focusin', function (e) {
    if (box && !box.hidden && !box.contains(e.target) && e.target.getBoundingClientRect().bottom > box.getBoundingClientRect().top)
      e.target.scrollIntoView({ block: 'center' });
  });
  d.addEventListener('click', function (e) {
    var t = e.target.closest && e.target.closest('[data-custodian-open]');
    if (t) { e.preventDefault(); ready.then(function () { open(true); }); }
  });

  function init() {
    var css = h('link', { rel: 'stylesheet', href: base + '/banner.css' }), langs = (nav.languages || [nav.language]).join(',');
    var loaded = new Promise(function (r) { css.onload = css.onerror = r; });
    d.head.append(css);
    var dom = new Promise(function (r) { d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', r) : r(); });
    return Promise.all([api('/v1/banner?lang=' + encodeURIComponent(langs)), loaded, dom]).then(function (r) {
      cfg = r[0];
      st = read();
      if (st && st.c) {
        fresh = st.h == cfg.consent_hash;
        // A changed banner asks again; a widget's choice holds while its terms are unchanged.
        // Under GPC the purposes it opts out of count as refused, whatever the cookie says.
        purposes().forEach(function (p) {
          if (p.id in st.c && (cfg.widgets.indexOf(p) < 0 ? fresh : (st.w || {})[p.id] == p.terms)) cur[p.id] = st.c[p.id] && !locked(p);
        });
        if (st.u && fresh) record(st.c, 'banner').then(function () { write(st); });
      }
      apply();
      if (!fresh) open(false);
      return choices();
    });
  }

  var ready = init();
  ready.catch(function (e) { console.warn('custodian: no banner', e); });
  w.custodian = {
    ready: ready,
    choices: choices,
    open: function () { return ready.then(function () { open(true); }); },
    on: function (type, fn) { if (type == 'change') fns.push(fn); }
  };
})(window, document);
