// Draws the report's charts with the embedded Chart.js from the JSON in
// #report-data (reports/chart_data.h). After a chart has drawn, its canvas
// gets data-rendered="N points", and any failure is recorded on <html
// data-errors> as well as the console, so a headless browser can check both.
(function () {
  'use strict';
  var root = document.documentElement;
  function record(message) {
    root.setAttribute('data-errors', (root.getAttribute('data-errors') || '') + message + '\n');
    console.error(message);
  }

  // Colours with distinct point shapes and dashes, so series stay apart in grey print.
  var colours = ['#1f5fa8', '#c0392b', '#2e8b3e', '#7d3c98', '#d35400', '#7b5a3a', '#c2185b', '#00838f', '#555555', '#9e9d24'];
  var shapes = ['circle', 'triangle', 'rect', 'rectRot', 'star', 'crossRot', 'rectRounded', 'cross'];
  var dashes = [[], [6, 3], [2, 2], [8, 3, 2, 3]];

  function number(value) {
    if (value === null || value === undefined) return '';
    var magnitude = Math.abs(value);
    return magnitude !== 0 && (magnitude >= 1e5 || magnitude < 1e-3) ? value.toExponential(3) : String(+value.toPrecision(4));
  }

  // Confidence intervals: a vertical whisker from low to high at each point that has them.
  var whiskers = {
    id: 'whiskers',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach(function (dataset, index) {
        var meta = chart.getDatasetMeta(index);
        if (meta.hidden) return;
        ctx.save();
        ctx.strokeStyle = dataset.borderColor;
        ctx.lineWidth = 1.5;
        dataset.data.forEach(function (point, i) {
          if (!point || point.low === undefined || point.high === undefined || !meta.data[i]) return;
          var x = meta.data[i].x, top = y.getPixelForValue(point.high), bottom = y.getPixelForValue(point.low);
          ctx.beginPath();
          ctx.moveTo(x, top); ctx.lineTo(x, bottom);
          ctx.moveTo(x - 4, top); ctx.lineTo(x + 4, top);
          ctx.moveTo(x - 4, bottom); ctx.lineTo(x + 4, bottom);
          ctx.stroke();
        });
        ctx.restore();
      });
    }
  };

  var marker = {
    id: 'renderedMarker',
    afterRender: function (chart) {
      var drawn = 0;
      chart.getSortedVisibleDatasetMetas().forEach(function (meta) {
        var values = chart.data.datasets[meta.index].data;
        meta.data.forEach(function (element, i) { if (values[i] !== null && values[i] !== undefined) drawn += 1; });
      });
      chart.canvas.setAttribute('data-rendered', drawn + ' points');
    }
  };

  function datasets(spec) {
    return spec.series.map(function (series, index) {
      var colour = colours[index % colours.length];
      var data = spec.kind === 'bar'
        ? spec.categories.map(function (_, at) {
            var point = series.points.find(function (p) { return p.x === at; });
            return point ? point.y : null;
          })
        : series.points;
      return {
        label: series.label,
        data: data,
        borderColor: colour,
        backgroundColor: spec.kind === 'bar' ? colour + 'cc' : colour,
        pointStyle: shapes[index % shapes.length],
        pointRadius: spec.kind === 'line' && series.points.length > 60 ? 0 : 4,
        borderDash: spec.kind === 'line' ? dashes[index % dashes.length] : [],
        showLine: spec.kind === 'line',
        borderWidth: spec.kind === 'bar' ? 1 : 2
      };
    });
  }

  // The value axis must hold the whiskers too.
  function valueRange(spec) {
    var low = Infinity, high = -Infinity;
    spec.series.forEach(function (series) {
      series.points.forEach(function (p) {
        low = Math.min(low, p.low !== undefined ? p.low : p.y, p.y);
        high = Math.max(high, p.high !== undefined ? p.high : p.y, p.y);
      });
    });
    return isFinite(low) ? { suggestedMin: spec.kind === 'bar' ? Math.min(0, low) : low, suggestedMax: high } : {};
  }

  function tooltipLabel(item) {
    var raw = item.raw, text = item.dataset.label + ': ';
    if (raw && typeof raw === 'object') {
      if (raw.label) text += raw.label + ' ';
      text += '(' + number(raw.x) + ', ' + number(raw.y) + ')';
      if (raw.low !== undefined) text += ' CI [' + number(raw.low) + ', ' + number(raw.high) + ']';
      return text;
    }
    return text + number(raw);
  }

  function config(spec) {
    var range = valueRange(spec);
    return {
      type: spec.kind === 'bar' ? 'bar' : 'scatter',
      data: { labels: spec.kind === 'bar' ? spec.categories : undefined, datasets: datasets(spec) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: spec.title, font: { size: 14 } },
          legend: { display: true, labels: { usePointStyle: true } },
          tooltip: { callbacks: { label: tooltipLabel } }
        },
        scales: {
          x: { type: spec.kind === 'bar' ? 'category' : 'linear', title: { display: true, text: spec.x_label },
               ticks: spec.x_label === 'layer' ? { stepSize: 1, precision: 0 } : {} },
          y: { type: 'linear', title: { display: true, text: spec.y_label },
               suggestedMin: range.suggestedMin, suggestedMax: range.suggestedMax }
        }
      },
      plugins: [whiskers, marker]
    };
  }

  // report.html?section=plans shows that section alone (to link to it, or to screenshot it).
  var only = new URLSearchParams(window.location.search).get('section');
  if (only && document.getElementById(only)) {
    document.querySelectorAll('main > section').forEach(function (section) { section.hidden = section.id !== only; });
  }

  var charts = [];
  try {
    var data = JSON.parse(document.getElementById('report-data').textContent);
    document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
      var id = canvas.getAttribute('data-chart');
      try {
        if (!data.charts[id]) throw new Error('no data for chart ' + id);
        charts.push(new Chart(canvas, config(data.charts[id])));
      } catch (error) {
        canvas.setAttribute('data-chart-error', String(error.message || error));
        record('chart ' + id + ': ' + (error.message || error));
      }
    });
  } catch (error) {
    record('report data: ' + (error.message || error));
  }

  // Printing: open the folded tables and redraw the charts at the paper's width.
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details').forEach(function (details) { details.open = true; });
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
