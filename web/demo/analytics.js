// Stand-in for an analytics tag: it sets the cookie a real one would and says that it ran.
document.cookie = 'cst_analytics=' + Date.now() + ';path=/;max-age=31536000;samesite=lax';
window.__analytics = (window.__analytics || 0) + 1;
(function (m) {
  if (!m) return;
  m.textContent = 'Analytics stand-in: running (cookie cst_analytics set)';
  m.setAttribute('data-state', 'on');
})(document.getElementById('analytics-status'));
