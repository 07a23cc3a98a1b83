/* The overview's three charts (Chart.js, vendored) from the JSON the page embeds. */
(function () {
  "use strict";
  var palette = ["#2563eb", "#db2777", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#ca8a04", "#4b5563"];
  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { position: "bottom" } } }, config.options || {});
    // Today (the last day) always has its label and a whole point: half a day of room at each end, and
    // labels counted back from today rather than left to Chart.js's auto-skip (which may drop the last one).
    var scales = config.options.scales = config.options.scales || {};
    scales.x = Object.assign({ offset: true }, scales.x || {}, { ticks: { autoSkip: false, maxRotation: 0,
      callback: function (value, index, ticks) {
        var step = Math.max(1, Math.ceil(ticks.length / 7));
        return (ticks.length - 1 - index) % step === 0 ? this.getLabelForValue(value) : null;
      } } });
    canvas.chart = new Chart(canvas, config);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("overview-chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var labels = data.labels.map(function (d) { return d.slice(5); });
    chart("automation-chart", { type: "line", data: { labels: labels, datasets: [
      { label: "Sent by Sidekick (%)", data: data.automation, borderColor: palette[0], spanGaps: true }] },
      options: { scales: { y: { min: 0, max: 100 } } } });
    chart("response-chart", { type: "line", data: { labels: labels, datasets: [
      { label: "AI", data: data.median_ai, borderColor: palette[2], spanGaps: true },
      { label: "Human", data: data.median_human, borderColor: palette[3], spanGaps: true }] },
      options: { scales: { y: { beginAtZero: true } } } });
    chart("escalation-chart", { type: "bar", data: { labels: labels, datasets: data.escalations.map(function (set, i) {
      return { label: set.label, data: set.data, backgroundColor: palette[i % palette.length] }; }) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } });
  });
})();
