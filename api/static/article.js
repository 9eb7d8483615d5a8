/* Article page: "was this helpful?" votes count as help-centre deflection events. */
(function () {
  "use strict";
  var box = document.getElementById("article-vote");
  if (!box || !window.Deflect) { return; }
  var articleId = box.getAttribute("data-article-id");
  window.Deflect.track("impression", { source: "help_centre", article_id: articleId });
  box.querySelectorAll("button[data-vote]").forEach(function (button) {
    button.addEventListener("click", function () {
      var vote = button.getAttribute("data-vote");
      window.Deflect.track(vote, { source: "help_centre", article_id: articleId });
      box.textContent = vote === "helpful" ? "Thanks! Glad it helped." : "Thanks for telling us. ";
      if (vote !== "helpful") {
        var link = window.Deflect.el("a", null, "Contact us");
        link.href = "/contact";
        box.appendChild(link);
      }
    });
  });
})();
