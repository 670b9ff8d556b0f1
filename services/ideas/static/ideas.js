// Similar ideas while an idea is being typed: a progressive enhancement of the submit page, whose
// "Check for similar ideas" button does the same without scripts.
(function () {
  "use strict";
  var form = document.getElementById("idea-form");
  var region = document.getElementById("similar");
  if (!form || !region || !window.fetch) { return; }
  var url = form.getAttribute("data-similar-url");
  var title = form.querySelector("[name=title]");
  var description = form.querySelector("[name=description]");
  var timer = null;
  var last = "";
  var asked = 0;

  function text() {
    return (title.value + " " + description.value).replace(/\s+/g, " ").trim().slice(0, 2000);
  }

  function look() {
    var now = text();
    if (now === last) { return; }
    last = now;
    if (now.length < 3) { region.innerHTML = ""; return; }
    var mine = ++asked;
    fetch(url + "?text=" + encodeURIComponent(now), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("similar ideas: " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (mine === asked) { region.innerHTML = html; }  // an older answer never replaces a newer one
      })
      .catch(function (error) { if (window.console) { console.warn(error); } });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(look, 350);
  }

  title.addEventListener("input", later);
  description.addEventListener("input", later);
}());
