// Clarion console: progressive enhancement only; every page works without it.
"use strict";

function autosubmit() {
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
}

function confirms() {
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (ev) {
      if (!window.confirm(el.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
}

function showProgress(id, p) {
  var bar = document.getElementById("progress-" + id);
  var label = document.getElementById("progress-label-" + id);
  var state = document.getElementById("state-" + id);
  if (bar) { bar.value = p.percent; }
  if (label) { label.textContent = p.percent + "% (" + p.done + " / " + p.total + ")"; }
  if (state) { state.textContent = p.status; state.className = "status-" + p.status; }
}

function liveProgress() {
  var root = document.querySelector("[data-progress-stream]");
  if (!root || !window.EventSource) { return; }
  var source = new EventSource(root.getAttribute("data-progress-stream"));
  source.addEventListener("progress", function (ev) {
    var all = JSON.parse(ev.data);
    Object.keys(all).forEach(function (id) { showProgress(id, all[id]); });
  });
}

function livePreview() {
  document.querySelectorAll("form[data-preview]").forEach(function (form) {
    var timer = null;
    var target = document.getElementById("preview");
    function refresh() {
      fetch(form.getAttribute("data-preview"), {method: "POST", body: new FormData(form),
                                                credentials: "same-origin"})
        .then(function (r) { return r.text(); })
        .then(function (html) { if (target) { target.innerHTML = html; } });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });
  });
}

function whoReads() {
  var panel = document.querySelector("[data-who-reads]");
  var category = document.getElementById("category");
  if (!panel || !category) { return; }
  category.addEventListener("change", function () {
    var url = panel.getAttribute("data-who-reads") + "?category=" +
      encodeURIComponent(category.value);
    fetch(url, {credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (html) { panel.innerHTML = html; });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  autosubmit(); confirms(); liveProgress(); livePreview(); whoReads();
});
