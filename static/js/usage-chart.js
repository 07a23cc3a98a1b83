/* Stacked bars of tokens per day and user, from the JSON the usage page embeds (Chart.js, vendored). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("usage-chart");
    var source = document.getElementById("usage-chart-data");
    if (!canvas || !source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var palette = ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#4b5563"];
    data.datasets.forEach(function (set, i) { set.backgroundColor = palette[i % palette.length]; });
    canvas.chart = new Chart(canvas, {
      type: "bar",
      data: data,
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: "tokens" } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
  });
})();
