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
      var D = window.Deflect, lang = document.documentElement.lang || "en";
      box.textContent = vote === "helpful" ? D.t("article.thanks") : D.t("article.sorry") + " ";
      if (vote !== "helpful") {
        var link = D.el("a", null, D.t("nav.contact"));
        link.href = "/contact?lang=" + encodeURIComponent(lang);
        box.appendChild(link);
      }
    });
  });
})();
