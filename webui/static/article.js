// The article page: step through the query's matches (上一处 / 下一处) and copy a citation (复制引用).
// Without this script the page still has its jump link to the first match, and no buttons.
(function () {
  "use strict";
  var COPIED_MS = 2000;

  var nav = document.querySelector(".match-nav");
  var marks = document.querySelectorAll(".article mark");
  if (nav && marks.length) {
    var place = nav.querySelector(".match-place");
    var current = -1;
    var go = function (step) {
      if (current >= 0) marks[current].classList.remove("is-current");
      current = (current + step + marks.length) % marks.length;
      marks[current].classList.add("is-current");
      marks[current].scrollIntoView({ block: "center" });
      place.textContent = "第 " + (current + 1) + "/" + marks.length + " 处";
    };
    nav.querySelector(".match-next").addEventListener("click", function () { go(1); });
    nav.querySelector(".match-prev").addEventListener("click", function () { go(current < 0 ? 0 : -1); }); // from the top: the last
    nav.hidden = false;
  }

  var cite = document.querySelector(".cite-copy");
  if (cite) {
    var label = cite.textContent;
    var done = function (text) {
      cite.textContent = text;
      window.setTimeout(function () { cite.textContent = label; }, COPIED_MS);
    };
    var byHand = function (text) { // no clipboard API (a page not served over https or localhost)
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var copied = document.execCommand && document.execCommand("copy");
      document.body.removeChild(area);
      return copied;
    };
    cite.addEventListener("click", function () {
      var text = cite.getAttribute("data-cite");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done("已复制"); }, function () {
          done(byHand(text) ? "已复制" : "复制失败");
        });
      } else {
        done(byHand(text) ? "已复制" : "复制失败");
      }
    });
    cite.hidden = false;
  }
})();
