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
  // A link to #battle-N (a tournament's pair table) opens battle N in the viewer.
  function fromHash() {
    var match = /^#battle-(\d+)$/.exec(window.location.hash);
    if (match && select.querySelector('option[value="' + match[1] + '"]')) {
      select.value = match[1];
      show();
      document.getElementById("battle-" + match[1]).scrollIntoView();
    }
  }
  select.addEventListener("change", show);
  window.addEventListener("hashchange", fromHash);
  show();
  fromHash();
})();
