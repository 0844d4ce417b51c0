// Battle viewer: show the battle picked in the <select>, hide the others.
(function () {
  var select = document.getElementById("battle-select");
  if (!select) {
    return;
  }
  function show() {
    var battles = document.querySelectorAll("article.battle");
    for (var i = 0; i < battles.length; i++) {
      battles[i].hidden = battles[i].getAttribute("data-index") !== select.value;
    }
  }
  select.addEventListener("change", show);
  show();
})();
