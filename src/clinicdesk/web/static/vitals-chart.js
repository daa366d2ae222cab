// Vitals trends: draws every <canvas data-vitals-chart='{"label", "unit", "labels",
// "values", "flags", "series"?}'> with Chart.js (served from npm under
// /static/vendor/chart.js/). A point outside the normal range is a larger triangle, so
// the flag never rests on colour alone; the same figures are in the table below each chart.
(function () {
  "use strict";

  var COLOURS = ["#1d5fa8", "#8a5a00"];

  function dataset(series, index) {
    var colour = COLOURS[index % COLOURS.length];
    var abnormal = series.flags.map(function (flag) { return flag === "L" || flag === "H"; });
    return {
      label: series.label,
      data: series.values,
      borderColor: colour,
      backgroundColor: colour,
      borderDash: index === 1 ? [6, 4] : [],
      tension: 0, // straight segments: a curve would invent values between visits
      pointStyle: abnormal.map(function (a) { return a ? "triangle" : "circle"; }),
      pointRadius: abnormal.map(function (a) { return a ? 6 : 3; }),
      pointBackgroundColor: abnormal.map(function (a) { return a ? "#b42318" : colour; }),
    };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") { return; }
    var chart = JSON.parse(canvas.dataset.vitalsChart);
    var series = chart.series || [chart];
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, {
      type: "line",
      data: { labels: chart.labels, datasets: series.map(dataset) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: series.length > 1 },
          tooltip: {
            callbacks: {
              label: function (item) {
                var flag = series[item.datasetIndex].flags[item.dataIndex];
                var word = flag === "H" ? " (high)" : flag === "L" ? " (low)" : "";
                return item.dataset.label + ": " + item.formattedValue + " " + chart.unit + word;
              },
            },
          },
        },
        scales: { x: { ticks: { maxTicksLimit: 6, autoSkip: true } }, y: { grace: "10%", title: { display: true, text: chart.unit } } },
      },
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-vitals-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
