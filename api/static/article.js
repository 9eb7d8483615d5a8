/* Article page: "was this helpful?" votes count as help-centre deflection events. */
(function () {
  "use strict";
  var D = window.Deflect;
  var box = document.getElementById("article-vote");
  if (!box || !D) { return; }
  var _ = D._;
  var articleId = box.getAttribute("data-article-id");
  D.track("impression", { source: "help_centre", article_id: articleId });
  box.querySelectorAll("button[data-vote]").forEach(function (button) {
    button.addEventListener("click", function () {
      var vote = button.getAttribute("data-vote");
      D.track(vote, { source: "help_centre", article_id: articleId });
      box.textContent = vote === "helpful" ? _("Thanks! Glad it helped.") : _("Thanks for telling us.") + " ";
      if (vote !== "helpful") {
        var link = D.el("a", null, _("Contact us"));
        link.href = "/contact?lang=" + encodeURIComponent(D.lang);
        box.appendChild(link);
      }
    });
  });
})();
