/* A contact's lead score over time (Chart.js, vendored), from the JSON the contact page embeds. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var canvas = document.getElementById("score-chart");
    var source = document.getElementById("score-chart-data");
    if (!canvas || !source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var labels = data.labels.map(function (iso) { return new Date(iso).toLocaleDateString(); });
    canvas.chart = new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: [{ label: "Lead score", data: data.scores, borderColor: "#2563eb", tension: 0.2 }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { min: 0, max: 100 } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { afterLabel: function (ctx) { return data.stages[ctx.dataIndex]; } } } }
      }
    });
  });
})();
