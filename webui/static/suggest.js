// Search as you type: suggestions under the query box (ARIA combobox with a listbox popup).
// ↑/↓ move, Enter searches for the highlighted suggestion, Esc closes the list. Without this
// script the box is a plain search field.
(function () {
  "use strict";
  var DELAY_MS = 80; // wait for a pause in typing
  var box = document.querySelector("input[data-suggest]");
  if (!box || !window.fetch) return;
  var list = document.getElementById(box.getAttribute("aria-controls"));
  if (!list) return;
  var form = box.form;
  var items = []; // the suggestions shown: [{text, word, count, by, label}]
  var active = -1;
  var timer = 0;
  var pending = null; // the request in flight (aborted by a newer one)
  var composing = false; // an input method is composing: wait for its text

  function optionId(i) { return list.id + "-" + i; }

  function close() {
    items = [];
    active = -1;
    list.hidden = true;
    list.textContent = "";
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
  }

  function highlight(i) {
    var options = list.children;
    if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
    active = i;
    if (active >= 0 && options[active]) {
      options[active].setAttribute("aria-selected", "true");
      box.setAttribute("aria-activedescendant", optionId(active));
      options[active].scrollIntoView({ block: "nearest" });
    } else {
      box.removeAttribute("aria-activedescendant");
    }
  }

  function show(found) {
    close();
    if (!found.length) return;
    items = found;
    found.forEach(function (item, i) {
      var option = document.createElement("li");
      option.id = optionId(i);
      option.className = "suggestion";
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      var word = document.createElement("span");
      word.className = "suggestion-text";
      word.textContent = item.text; // text, never HTML: the words come from the articles
      var count = document.createElement("span");
      count.className = "suggestion-count";
      count.textContent = item.count.toLocaleString("zh-CN") + " 篇";
      option.appendChild(word);
      if (item.label) { // a stock code's company
        var label = document.createElement("span");
        label.className = "suggestion-label";
        label.textContent = item.label;
        option.appendChild(label);
      }
      option.appendChild(count);
      // mousedown, not click: the box keeps the focus (no blur closes the list first).
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        choose(i);
      });
      list.appendChild(option);
    });
    list.hidden = false;
    box.setAttribute("aria-expanded", "true");
  }

  function choose(i) {
    box.value = items[i].text;
    close();
    if (form) form.submit();
  }

  function ask() {
    var text = box.value;
    if (pending) pending.abort();
    if (!text.trim()) { close(); return; }
    pending = window.AbortController ? new AbortController() : null;
    fetch(box.getAttribute("data-suggest") + "?q=" + encodeURIComponent(text),
          { signal: pending ? pending.signal : undefined, headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (found) {
        if (box.value === text && document.activeElement === box) show(found);
      })
      .catch(function () { /* aborted by newer typing, or offline: no suggestions */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, DELAY_MS);
  }

  box.addEventListener("input", function () { if (!composing) later(); });
  box.addEventListener("compositionstart", function () { composing = true; });
  box.addEventListener("compositionend", function () { composing = false; later(); });
  box.addEventListener("blur", close);
  box.addEventListener("keydown", function (event) {
    if (event.isComposing || composing) return;
    var open = !list.hidden && items.length > 0;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!open) { if (event.key === "ArrowDown") ask(); return; }
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      var next = active + step;
      if (next >= items.length) next = -1; // past either end: back to what was typed
      if (next < -1) next = items.length - 1;
      highlight(next);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      event.stopPropagation(); // the first Esc closes the list; the next one leaves the box (app.js)
      close();
    } else if (event.key === "Tab") {
      close();
    }
  });
})();
