// The demo shop's own script: shows the visitor's choices using the banner's API.
(function () {
  var out = document.getElementById('choices');
  function show(c) {
    var ids = Object.keys(c || {});
    out.textContent = ids.length ? ids.map(function (p) { return p + ': ' + (c[p] ? 'yes' : 'no'); }).join(', ') : 'none yet';
  }
  if (window.custodian) {
    window.custodian.ready.then(show, function () { out.textContent = 'the banner could not load'; });
    window.custodian.on('change', show);
  }
})();
