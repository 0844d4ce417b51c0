// Charts are drawn while the page is parsed, each at the width its grid cell has at that
// moment (the first chart of a row fills the row alone until the next one exists). Once
// every chart is there, fit each one to its final cell.
(function () {
  function fit() {
    if (!window.Plotly) {
      return;
    }
    var plots = document.querySelectorAll(".js-plotly-plot");
    for (var i = 0; i < plots.length; i++) {
      window.Plotly.Plots.resize(plots[i]);
    }
  }
  if (document.readyState === "complete") {
    fit();
  } else {
    window.addEventListener("load", fit);
  }
})();
