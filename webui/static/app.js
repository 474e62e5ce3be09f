// "/" focuses the search box (unless you are typing somewhere); Esc leaves it.
(function () {
  "use strict";
  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }
  // On a phone the filters start folded (they are open without JS, and on wide screens).
  var panel = document.querySelector("details.filters-panel");
  if (panel && window.matchMedia && window.matchMedia("(max-width: 720px)").matches) {
    panel.removeAttribute("open");
  }
  document.addEventListener("keydown", function (event) {
    var box = document.querySelector("input[data-shortcut='/']");
    if (!box) return;
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typing(document.activeElement)) {
      event.preventDefault();
      box.focus();
      box.select();
    } else if (event.key === "Escape" && document.activeElement === box) {
      event.preventDefault(); // a search field's own Esc would wipe what was typed
      box.blur();
    }
  });
})();
