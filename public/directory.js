// The directory's online counts, live: follows /api/live/directory (Server-Sent
// Events, counts only) for the cards on the page and rewrites each card's
// "Online now" figure and the "Any available" badge. Loaded by the directory
// page with a plain <script src> ('self' in the CSP); the page works without it.
(function () {
  'use strict';
  if (typeof EventSource === 'undefined' || window.__autodoctorDirectoryLive) return;
  window.__autodoctorDirectoryLive = true;

  function start() {
    var cards = document.querySelectorAll('[data-workshop-id]');
    var ids = [];
    for (var i = 0; i < cards.length && ids.length < 100; i++) {
      ids.push(cards[i].getAttribute('data-workshop-id'));
    }
    var source = new EventSource('/api/live/directory?ids=' + encodeURIComponent(ids.join(',')));
    source.addEventListener('counts', function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      var any = document.getElementById('any-available-count');
      if (any && typeof data.any_available === 'number') {
        any.textContent = data.any_available + ' online now';
        any.className = data.any_available > 0 ? 'badge success' : 'badge';
      }
      (data.workshops || []).forEach(function (w) {
        var card = document.querySelector('[data-workshop-id="' + w.workshop_id + '"]');
        var stat = card && card.querySelector('.stat-online');
        if (stat) {
          stat.textContent = w.available_mechanics + ' / ' + w.total_mechanics;
          card.setAttribute('data-online', String(w.available_mechanics));
        }
      });
      document.documentElement.setAttribute('data-directory-live', 'on');
    });
    window.addEventListener('pagehide', function () { source.close(); });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
