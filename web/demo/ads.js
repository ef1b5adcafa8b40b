// Stand-in for a partner's advertising pixel: it sets the cookie a real one would and says so.
document.cookie = 'cst_ads=1;path=/;max-age=31536000;samesite=lax';
window.__adPixel = true;
(function (m) {
  if (!m) return;
  m.textContent = 'Advertising pixel: fired (cookie cst_ads set)';
  m.setAttribute('data-state', 'on');
})(document.getElementById('ad-status'));
