// videojury study: the rater's page. One item per page; an answer is POSTed as
// JSON with the page's CSRF token, then the page reloads to the next item.
(function () {
  "use strict";
  var el = document.getElementById("page-data");
  if (!el) { return; }
  var D = JSON.parse(el.textContent);
  var status = document.getElementById("status");

  function say(text) { if (status) { status.textContent = text; } }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": D.csrf },
      body: JSON.stringify(body)
    });
  }

  if (D.page === "instructions") {
    var btn = document.getElementById("start");
    var go = function () {
      btn.disabled = true;
      post(D.start_url, {}).then(function (r) {
        if (r.ok) { location.replace(D.page_url); } else { btn.disabled = false; say("Could not start (" + r.status + "); try again."); }
      }, function () { btn.disabled = false; say("No connection; try again."); });
    };
    btn.addEventListener("click", go);
    document.body.dataset.ready = "1";
    return;
  }
  if (D.page !== "item") { return; }

  var dims = D.dimensions;
  var pair = D.protocol === "pairwise";
  var answers = {};
  var current = 0;
  var sending = false;
  var ready = !(D.min_view > 0);
  var keys = pair ? { a: "a", b: "b", t: "tie" } : { "1": "1", "2": "2", "3": "3", "4": "4", "5": "5" };

  function mark() {
    dims.forEach(function (d, i) {
      var q = document.querySelector('.question[data-dim="' + d + '"]');
      q.classList.toggle("current", i === current && !sending);
      q.querySelectorAll("button").forEach(function (b) {
        b.classList.toggle("chosen", answers[d] === b.dataset.value);
        b.disabled = !ready || sending;
      });
    });
  }

  function submit(attempt) {
    sending = true; mark();
    say(attempt ? "Saving again…" : "Saving…");
    post(D.answer_url, { seq: D.seq, nonce: D.nonce, answers: answers }).then(function (r) {
      if (r.ok) { location.replace(D.page_url); return; }
      return r.json().then(function (j) {
        say((j && j.error) || ("Not saved (" + r.status + ")"));
        if (r.status === 409) { setTimeout(function () { location.replace(D.page_url); }, 1500); }
        else { sending = false; mark(); }
      });
    }, function () {
      // No reply: the answer may or may not be stored; the server acknowledges a
      // repeat of a stored answer without storing it twice, so retrying is safe.
      say("No connection; retrying…");
      setTimeout(function () { submit((attempt || 0) + 1); }, 1000);
    });
  }

  function choose(dim, value) {
    if (!ready || sending) { return; }
    answers[dim] = value;
    var next = dims.findIndex(function (d) { return !(d in answers); });
    if (next < 0) { submit(0); return; }
    current = next;
    mark();
  }

  document.querySelectorAll(".choices button").forEach(function (b) {
    b.addEventListener("click", function () { choose(b.dataset.dim, b.dataset.value); });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) { return; }
    if (ev.key === "Backspace" && !sending && current > 0) {
      // Take back the previous dimension's answer (the item is not sent yet).
      ev.preventDefault();
      current -= 1;
      delete answers[dims[current]];
      mark();
      return;
    }
    var v = keys[ev.key.toLowerCase()];
    if (v === undefined) { return; }
    ev.preventDefault();
    choose(dims[current], v);
  });

  function setReady() { ready = true; document.body.dataset.ready = "1"; var w = document.getElementById("wait"); w.hidden = true; mark(); }
  if (ready) { setReady(); } else {
    var t0 = performance.now();
    var wait = document.getElementById("wait");
    wait.hidden = false;
    var tick = function () {
      var left = D.min_view - (performance.now() - t0) / 1000;
      if (left <= 0) { setReady(); return; }
      wait.textContent = "Please watch: answers open in " + Math.ceil(left) + " s";
      setTimeout(tick, 200);
    };
    tick();
    mark();
  }
})();
