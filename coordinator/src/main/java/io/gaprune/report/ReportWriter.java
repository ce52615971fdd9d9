package io.gaprune.report;

import com.google.gson.GsonBuilder;
import io.gaprune.model.LayerType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Writes a {@link RunReport} three ways: {@code report.json} for programs, {@code report.md} for reading and
 * {@code report.html} (self-contained: HTML tables, inline SVG charts, no script, nothing fetched) for people
 * who would rather look than read. Both readable forms open with the model, the data, the sparsity (of the
 * candidate weights, not of the model) and the share of the dense model's nDCG@10 that was kept.
 */
public final class ReportWriter {

  static final String PRIMARY_METRIC = "ndcg@10";
  private static final List<String> METRIC_ORDER = List.of("ndcg@10", "mrr@10", "recall@10", "recall@100");
  private static final String[] PALETTE = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
      "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

  /** Grey: the layer bars must not share a colour with a method's line. */
  private static final String LAYER_BAR = "#9a9a9a";

  private ReportWriter() {}

  /** Writes the three files into {@code dir} (created if missing) and returns their paths. */
  public static List<Path> write(RunReport report, Path dir) {
    try {
      Files.createDirectories(dir);
      var json = dir.resolve("report.json");
      var markdown = dir.resolve("report.md");
      var html = dir.resolve("report.html");
      // each file appears whole (AtomicFiles); report.json last, so that its presence means all three are new
      AtomicFiles.writeString(markdown, toMarkdown(report));
      AtomicFiles.writeString(html, toHtml(report));
      AtomicFiles.writeString(json, toJson(report));
      return List.of(json, markdown, html);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the report into " + dir + ": " + e.getMessage(), e);
    }
  }

  public static String toJson(RunReport report) {
    return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(report)
        + "\n";
  }

  /**
   * The summary (model, data, sparsity, share of dense kept), then the evaluation table, one row per variant,
   * one column per data set and metric, like the paper's, with each variant's share of the dense nDCG@10.
   */
  public static String toMarkdown(RunReport report) {
    var out = new StringBuilder();
    out.append("# gaprune ").append(report.command()).append("\n\n");
    out.append("| | |\n|---|---|\n");
    for (var line : summary(report)) {
      out.append("| ").append(line[0]).append(" | ").append(line[1].replace("|", "\\|")).append(" |\n");
    }
    out.append('\n');
    if (!report.evaluations().isEmpty()) {
      out.append(evaluationMarkdown(report)).append('\n');
    }
    if (!report.layers().isEmpty()) {
      out.append(layerTitle(report)).append(":\n\n");
      out.append("| layer | candidate weights | pruned | sparsity |\n|---|---:|---:|---:|\n");
      for (var layer : report.layers()) {
        out.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %.4f |%n", layer.layer(), layer.candidates(),
            layer.pruned(), layer.sparsity()));
      }
      out.append('\n');
    }
    if (!report.timingsSeconds().isEmpty()) {
      out.append("| phase | seconds |\n|---|---:|\n");
      report.timingsSeconds().forEach(
          (phase, seconds) -> out.append(String.format(Locale.ROOT, "| %s | %.1f |%n", phase, seconds)));
      out.append('\n');
    }
    if (report.session() != null) {
      out.append("| session | |\n|---|---:|\n");
      report.session().forEach((key, value) -> out.append(String.format(Locale.ROOT, "| %s | %s |%n",
          key.replace('_', ' '), value instanceof Number n ? String.format(Locale.ROOT, "%,d", n.longValue())
              : value)));
      out.append('\n');
    }
    for (String warning : report.warnings()) {
      out.append("- warning: ").append(warning).append('\n');
    }
    return out.toString();
  }

  /** The evaluation table in Markdown (also the model card's). */
  static String evaluationMarkdown(RunReport report) {
    var out = new StringBuilder();
    var header = evaluationHeader(report);
    out.append('|');
    header.forEach(h -> out.append(' ').append(h).append(" |"));
    out.append("\n|---|").append("---:|".repeat(header.size() - 1)).append('\n');
    for (var row : evaluationRows(report)) {
      out.append('|');
      row.forEach(cell -> out.append(' ').append(cell).append(" |"));
      out.append('\n');
    }
    return out.toString();
  }

  private static List<String> evaluationHeader(RunReport report) {
    var header = new ArrayList<String>();
    header.add("variant");
    for (String dataset : datasets(report)) {
      for (String metric : metrics(report)) {
        header.add(dataset + " " + metric);
      }
      if (hasDense(report, dataset)) {
        header.add(dataset + " share of dense " + PRIMARY_METRIC);
      }
    }
    return header;
  }

  private static List<List<String>> evaluationRows(RunReport report) {
    var rows = new ArrayList<List<String>>();
    for (String variant : variants(report)) {
      var row = new ArrayList<String>();
      row.add(variant);
      for (String dataset : datasets(report)) {
        for (String metric : metrics(report)) {
          Double value = value(report, variant, dataset, metric);
          row.add(value == null ? "–" : String.format(Locale.ROOT, "%.4f", value));
        }
        if (hasDense(report, dataset)) {
          Double share = shareOfDense(report, variant, dataset);
          row.add(share == null ? "–" : String.format(Locale.ROOT, "%.1f%%", 100 * share));
        }
      }
      rows.add(row);
    }
    return rows;
  }

  /** The lines at the top of both reports: what was pruned, on what, how much, and what it kept. */
  static List<String[]> summary(RunReport report) {
    var c = report.configuration();
    var lines = new ArrayList<String[]>();
    lines.add(new String[] {"model", String.valueOf(c.get("model"))});
    lines.add(new String[] {"calibration data", "general " + c.get("general") + triplets(c.get("general_triplets"))
        + ", domain " + c.get("domain") + triplets(c.get("domain_triplets"))
        + (c.containsKey("statistics") ? "; statistics read from " + c.get("statistics") : "")});
    var datasets = datasets(report);
    if (!datasets.isEmpty()) {
      lines.add(new String[] {"evaluated on", String.join(", ", datasets)});
    }
    // the points of a compare ("70%, 2:4"), or its sparsities in reports written before points existed
    var planned = c.get("points") instanceof List<?> points
        ? String.join(", ", points.stream().map(p -> p.toString().contains(":") ? p.toString() : p + "%").toList())
        : c.get("sparsities");
    var several = c.get("points") instanceof List<?> points ? points.size() > 1
        : planned instanceof List<?> list && list.size() > 1;
    var structure = c.get("structure");
    lines.add(new String[] {"sparsity", (several ? "planned at " + planned + "; "
        + (report.chosen() != null ? report.chosen() + ": " : "") : "")
        + String.format(Locale.ROOT, "%.4f requested, %.6f actual: %,d of %,d candidate weights (%s) pruned",
        report.sparsityRequested(), report.sparsityActual(), report.pruned(), report.candidates(),
        c.get("layers"))
        + (structure != null && !structure.equals("unstructured") ? "; structure " + structure + ": " + nm(structure)
        : "")});
    var kept = sharesKept(report);
    if (!kept.isEmpty()) {
      lines.add(new String[] {"share of dense " + PRIMARY_METRIC + " kept", kept});
    }
    return lines;
  }

  /** What an N:M structure did, for a reader ("2:4" → every group of 4 ... keeps 2). */
  private static String nm(Object structure) {
    var parts = structure.toString().split(":");
    return "every group of " + parts[1] + " consecutive input weights of a row keeps its " + parts[0]
        + " best (no budget)";
  }

  private static String triplets(Object count) {
    return count instanceof Number n ? String.format(Locale.ROOT, " (%,d triplets)", n.longValue()) : "";
  }

  /**
   * {@code run}: every pruned variant's share of dense per data set; {@code compare}: per data set and sparsity
   * the method that kept the most.
   */
  private static String sharesKept(RunReport report) {
    var parts = new ArrayList<String>();
    for (String dataset : datasets(report)) {
      if (!hasDense(report, dataset)) {
        continue;
      }
      if (report.command().equals("compare")) {
        // point (" at 70%", " at 2:4", "" when unknown) -> {variant, share}; sparsities ascending, then structures
        var best = new java.util.TreeMap<String, String[]>(java.util.Comparator
            .comparing((String k) -> !k.endsWith("%")).thenComparingDouble(ReportWriter::percentOf)
            .thenComparing(k -> k));
        for (var e : report.evaluations()) {
          Double share = e.dataset().equals(dataset) && !e.dense() ? shareOfDense(report, e.variant(), dataset) : null;
          if (share == null) {
            continue;
          }
          String key = e.structured() ? " at " + e.structure()
              : e.sparsity() == null ? "" : String.format(Locale.ROOT, " at %.0f%%", 100 * e.sparsity());
          var current = best.get(key);
          if (current == null || share > Double.parseDouble(current[1])) {
            best.put(key, new String[] {e.sparsity() == null ? e.variant() : e.method(), Double.toString(share)});
          }
        }
        best.forEach((point, b) -> parts.add(String.format(Locale.ROOT, "%s%s: best %s %.1f%%", dataset, point,
            b[0], 100 * Double.parseDouble(b[1]))));
      } else {
        for (String variant : variants(report)) {
          Double share = variant.equals(RunReport.DENSE) ? null : shareOfDense(report, variant, dataset);
          if (share != null) {
            parts.add(String.format(Locale.ROOT, "%s on %s: %.1f%%", variant, dataset, 100 * share));
          }
        }
      }
    }
    return String.join("; ", parts);
  }

  /** The percentage of a " at 70%" key, 0 for others (which sort by their text). */
  private static double percentOf(String key) {
    return key.endsWith("%") ? Double.parseDouble(key.substring(4, key.length() - 1)) : 0;
  }

  private static boolean hasDense(RunReport report, String dataset) {
    Double dense = value(report, RunReport.DENSE, dataset, PRIMARY_METRIC);
    return dense != null && dense > 0;
  }

  /** A variant's nDCG@10 over the dense model's on a data set; null when either is missing. */
  static Double shareOfDense(RunReport report, String variant, String dataset) {
    Double dense = value(report, RunReport.DENSE, dataset, PRIMARY_METRIC);
    Double value = value(report, variant, dataset, PRIMARY_METRIC);
    return dense == null || value == null || dense == 0 ? null : value / dense;
  }

  private static String layerTitle(RunReport report) {
    return "Sparsity per layer" + (report.chosen() != null ? " (" + report.chosen() + ")" : "");
  }

  public static String toHtml(RunReport report) {
    var out = new StringBuilder();
    out.append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><meta charset=\"utf-8\"/>")
        .append("<title>gaprune ").append(escape(report.command())).append("</title>")
        .append("<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;")
        .append("margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}")
        .append("th{background:#f3f3f3}th:first-child,td:first-child{text-align:left}")
        .append("table.summary td,table.summary th{text-align:left}svg{display:block;margin:0.5em 0 1.5em}")
        .append("</style></head><body>\n");
    out.append("<h1>gaprune ").append(escape(report.command())).append("</h1>\n");
    out.append("<table class=\"summary\">\n");
    for (var line : summary(report)) {
      out.append("<tr><th>").append(escape(line[0])).append("</th><td>").append(escape(line[1]))
          .append("</td></tr>\n");
    }
    out.append("</table>\n");
    if (!report.evaluations().isEmpty()) {
      out.append("<h2>Retrieval</h2>\n");
      out.append(htmlTable("evaluation", evaluationHeader(report), evaluationRows(report)));
      var charts = sparsityCharts(report);
      if (!charts.isEmpty()) {
        out.append("<h2>").append(PRIMARY_METRIC).append(" against sparsity</h2>\n").append(charts);
      }
      if (sparsityCount(report) <= 1) {
        out.append("<h2>").append(PRIMARY_METRIC).append(" per variant</h2>\n").append(evaluationChart(report));
      }
    }
    if (!report.tensors().isEmpty()) {
      out.append("<h2>Sparsity per layer and tensor type").append(report.chosen() != null
          ? " (" + escape(report.chosen()) + ")" : "").append("</h2>\n").append(heatMap(report));
    }
    if (!report.layers().isEmpty()) {
      out.append("<h2>").append(escape(layerTitle(report))).append("</h2>\n");
      out.append(layerChart(report.layers()));
      var rows = new ArrayList<List<String>>();
      for (var layer : report.layers()) {
        rows.add(List.of(layer.layer(), String.format(Locale.ROOT, "%,d", layer.candidates()),
            String.format(Locale.ROOT, "%,d", layer.pruned()), String.format(Locale.ROOT, "%.4f", layer.sparsity())));
      }
      out.append(htmlTable("layers", List.of("layer", "candidate weights", "pruned", "sparsity"), rows));
    }
    if (!report.timingsSeconds().isEmpty()) {
      out.append("<h2>Time</h2>\n");
      var rows = new ArrayList<List<String>>();
      report.timingsSeconds().forEach((phase, seconds) -> rows.add(List.of(phase,
          String.format(Locale.ROOT, "%.1f", seconds))));
      out.append(htmlTable("timings", List.of("phase", "seconds"), rows));
    }
    if (report.session() != null) {
      out.append("<h2>Statistics session</h2>\n");
      var rows = new ArrayList<List<String>>();
      report.session().forEach((key, value) -> rows.add(List.of(key.replace('_', ' '),
          value instanceof Number n ? String.format(Locale.ROOT, "%,d", n.longValue()) : String.valueOf(value))));
      out.append(htmlTable("session", List.of("session", ""), rows));
    }
    if (!report.warnings().isEmpty()) {
      out.append("<h2>Warnings</h2>\n<ul>\n");
      report.warnings().forEach(w -> out.append("<li>").append(escape(w)).append("</li>\n"));
      out.append("</ul>\n");
    }
    out.append("</body></html>\n");
    return out.toString();
  }

  private static String htmlTable(String cssClass, List<String> header, List<List<String>> rows) {
    var out = new StringBuilder("<table class=\"").append(cssClass).append("\">\n<tr>");
    header.forEach(h -> out.append("<th>").append(escape(h)).append("</th>"));
    out.append("</tr>\n");
    for (var row : rows) {
      out.append("<tr>");
      row.forEach(cell -> out.append("<td>").append(escape(cell)).append("</td>"));
      out.append("</tr>\n");
    }
    return out.append("</table>\n").toString();
  }

  private static long sparsityCount(RunReport report) {
    return report.evaluations().stream().filter(e -> e.sparsity() != null && !e.structured())
        .map(RunReport.Evaluation::sparsity).distinct().count();
  }

  /**
   * For {@code compare}: per data set an SVG line chart of nDCG@10 against sparsity, one line per method (its
   * variants at every sparsity), the dense model as a dashed line; each method's line starts at the dense
   * score at sparsity 0, where every method prunes nothing. Empty when no row carries its sparsity.
   */
  static String sparsityCharts(RunReport report) {
    if (!report.command().equals("compare") || sparsityCount(report) == 0) {
      return "";
    }
    var out = new StringBuilder();
    for (String dataset : datasets(report)) {
      out.append(sparsityChart(report, dataset));
    }
    return out.toString();
  }

  private static String sparsityChart(RunReport report, String dataset) {
    var lines = new LinkedHashMap<String, java.util.TreeMap<Double, Double>>();
    Double dense = null;
    for (var e : report.evaluations()) {
      Double v = e.dataset().equals(dataset) ? e.metrics().get(PRIMARY_METRIC) : null;
      if (v == null) {
        continue;
      }
      if (e.dense()) {
        dense = v;
      } else if (e.sparsity() != null && !e.structured()) { // N:M rows are in the table, not on a sparsity axis
        lines.computeIfAbsent(e.method(), m -> new java.util.TreeMap<>()).put(e.sparsity(), v);
      }
    }
    if (lines.isEmpty()) {
      return "";
    }
    double low = dense == null ? Double.MAX_VALUE : dense;
    double high = dense == null ? -Double.MAX_VALUE : dense;
    double maxSparsity = 0;
    for (var points : lines.values()) {
      for (var p : points.entrySet()) {
        low = Math.min(low, p.getValue());
        high = Math.max(high, p.getValue());
        maxSparsity = Math.max(maxSparsity, p.getKey());
      }
    }
    double yMin = Math.max(0, Math.floor(low * 10 - 1e-9) / 10);
    double yMax = Math.min(1, Math.ceil(high * 10 + 1e-9) / 10);
    if (yMax <= yMin) {
      yMax = yMin + 0.1;
    }
    double xMax = Math.max(0.1, Math.ceil(maxSparsity * 10 - 1e-9) / 10);
    int left = 60;
    int top = 20;
    int plotWidth = 480;
    int plotHeight = 280;
    int legendWidth = 260;
    int width = left + plotWidth + 20 + legendWidth;
    int height = top + plotHeight + 50;
    final double y0 = yMin;
    final double y1 = yMax;
    java.util.function.DoubleUnaryOperator x = s -> left + s / xMax * plotWidth;
    java.util.function.DoubleUnaryOperator y = v -> top + (y1 - v) / (y1 - y0) * plotHeight;
    var svg = new StringBuilder();
    svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sparsity-chart\" "
        + "data-dataset=\"%s\" width=\"%d\" height=\"%d\" font-size=\"11\">%n", escape(dataset), width, height));
    svg.append(String.format(Locale.ROOT, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>%n",
        width, height));
    svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"13\" font-weight=\"bold\">%s: %s against "
        + "sparsity</text>%n", left, escape(dataset), PRIMARY_METRIC));
    for (int i = 0; i <= 5; i++) {
      double v = y0 + (y1 - y0) * i / 5;
      svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
          + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>%n", left, y.applyAsDouble(v),
          left + plotWidth, y.applyAsDouble(v), left - 4, y.applyAsDouble(v) + 4, v));
    }
    int xTicks = (int) Math.round(xMax * 10);
    int step = xTicks > 10 ? 2 : 1;
    for (int i = 0; i <= xTicks; i += step) {
      double s = i / 10.0;
      svg.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>"
          + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f%%</text>%n", x.applyAsDouble(s), top,
          x.applyAsDouble(s), top + plotHeight, x.applyAsDouble(s), top + plotHeight + 16, 100 * s));
    }
    svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">sparsity of the "
        + "candidate weights</text>%n", left + plotWidth / 2, top + plotHeight + 36));
    svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
        + "stroke=\"#999\"/>%n", left, top, plotWidth, plotHeight));
    int legendX = left + plotWidth + 20;
    int legendY = top + 10;
    if (dense != null) {
      svg.append(String.format(Locale.ROOT, "<line class=\"dense-line\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
          + "y2=\"%.1f\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"><title>dense %.4f</title>"
          + "</line>%n", left, y.applyAsDouble(dense), left + plotWidth, y.applyAsDouble(dense), dense));
      svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#555\" "
          + "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%d\">dense (%.4f)</text>%n", legendX, legendY,
          legendX + 24, legendY, legendX + 30, legendY + 4, dense));
      legendY += 18;
    }
    int m = 0;
    for (var line : lines.entrySet()) {
      var color = PALETTE[m % PALETTE.length];
      var points = new StringBuilder();
      if (dense != null) {
        points.append(String.format(Locale.ROOT, "%.1f,%.1f", x.applyAsDouble(0), y.applyAsDouble(dense)));
      }
      for (var p : line.getValue().entrySet()) {
        points.append(points.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.1f,%.1f",
            x.applyAsDouble(p.getKey()), y.applyAsDouble(p.getValue())));
      }
      svg.append(String.format(Locale.ROOT, "<polyline class=\"method-line\" data-method=\"%s\" points=\"%s\" "
          + "fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"/>%n", escape(line.getKey()), points, color));
      for (var p : line.getValue().entrySet()) {
        svg.append(String.format(Locale.ROOT, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
            + "fill=\"%s\"><title>%s at %.0f%%: %.4f</title></circle>%n", x.applyAsDouble(p.getKey()),
            y.applyAsDouble(p.getValue()), color, escape(line.getKey()), 100 * p.getKey(), p.getValue()));
      }
      svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
          + "stroke-width=\"2.5\"/><text x=\"%d\" y=\"%d\">%s</text>%n", legendX, legendY, legendX + 24, legendY,
          color, legendX + 30, legendY + 4, escape(line.getKey())));
      legendY += 18;
      m++;
    }
    return svg.append("</svg>\n").toString();
  }

  /**
   * The chosen plan's sparsity per tensor as a grid: one row per layer group, one column per tensor type (the
   * name inside its block, {@code mlp.up_proj}, {@code attention.self.query}); darker is sparser, each cell
   * printed. Empty when no per-tensor counts are known.
   */
  static String heatMap(RunReport report) {
    var rows = new ArrayList<String>();
    var columns = new ArrayList<String>();
    var cells = new LinkedHashMap<String, RunReport.TensorSparsity>();
    for (var t : report.tensors()) {
      var row = LayerType.group(t.name());
      var column = tensorType(t.name());
      if (!rows.contains(row)) {
        rows.add(row);
      }
      if (!columns.contains(column)) {
        columns.add(column);
      }
      cells.put(row + "\u0000" + column, t);
    }
    if (rows.isEmpty()) {
      return "";
    }
    int cellWidth = 90;
    int cellHeight = 22;
    int left = 90;
    int top = 110;
    int width = Math.max(left + columns.size() * cellWidth + 20, left + 11 * 20 + 110); // the legend's width
    int height = top + rows.size() * cellHeight + 40;
    var svg = new StringBuilder();
    svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heat-map\" "
        + "width=\"%d\" height=\"%d\" font-size=\"10\">%n", width, height));
    for (int c = 0; c < columns.size(); c++) {
      int cx = left + c * cellWidth + cellWidth / 2;
      svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" transform=\"rotate(-40 %d %d)\">%s</text>%n",
          cx, top - 6, cx, top - 6, escape(columns.get(c))));
    }
    for (int r = 0; r < rows.size(); r++) {
      int y = top + r * cellHeight;
      svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n", left - 6,
          y + cellHeight / 2 + 4, escape(rows.get(r))));
      for (int c = 0; c < columns.size(); c++) {
        var t = cells.get(rows.get(r) + "\u0000" + columns.get(c));
        int x = left + c * cellWidth;
        if (t == null) {
          svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
              + "fill=\"#f7f7f7\" stroke=\"#fff\"/>%n", x, y, cellWidth, cellHeight));
          continue;
        }
        double s = t.sparsity();
        svg.append(String.format(Locale.ROOT, "<rect class=\"cell\" data-sparsity=\"%.6f\" x=\"%d\" y=\"%d\" "
            + "width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#fff\"><title>%s: %,d of %,d pruned (%.4f)</title>"
            + "</rect>%n", s, x, y, cellWidth, cellHeight, heatColor(s), escape(t.name()), t.pruned(),
            t.candidates(), s));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%.2f"
            + "</text>%n", x + cellWidth / 2, y + cellHeight / 2 + 4, s > 0.55 ? "#fff" : "#222", s));
      }
    }
    int legendY = top + rows.size() * cellHeight + 18;
    for (int i = 0; i <= 10; i++) {
      svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"20\" height=\"10\" fill=\"%s\"/>%n",
          left + i * 20, legendY, heatColor(i / 10.0)));
    }
    svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text><text x=\"%d\" "
        + "y=\"%d\">1 (all pruned)</text>%n", left - 4, legendY + 9, left + 11 * 20 + 4, legendY + 9));
    return svg.append("</svg>\n").toString();
  }

  /** White (0) to dark blue (1). */
  static String heatColor(double sparsity) {
    double s = Math.max(0, Math.min(1, sparsity));
    int r = (int) Math.round(255 + (8 - 255) * s);
    int g = (int) Math.round(255 + (48 - 255) * s);
    int b = (int) Math.round(255 + (107 - 255) * s);
    return String.format(Locale.ROOT, "#%02x%02x%02x", r, g, b);
  }

  private static final Pattern BLOCK = Pattern.compile("(^|\\.)(layer|layers|h|blocks)\\.\\d+\\.");

  /** A tensor's name inside its block without {@code .weight}: {@code mlp.up_proj}, {@code intermediate.dense}. */
  static String tensorType(String name) {
    var m = BLOCK.matcher(name);
    var inside = m.find() ? name.substring(m.end()) : name.replaceFirst("^(model|bert)\\.", "");
    return inside.endsWith(".weight") ? inside.substring(0, inside.length() - ".weight".length()) : inside;
  }

  /** Candidate and pruned weights per layer type ({@code mlp}, {@code attention}, ...), in the types' order. */
  static Map<String, long[]> sparsityByLayerType(List<RunReport.TensorSparsity> tensors) {
    var out = new LinkedHashMap<String, long[]>();
    for (var type : LayerType.values()) {
      for (var t : tensors) {
        if (ModelCard.layerType(t.name()).equals(type.toString())) {
          var counts = out.computeIfAbsent(type.toString(), k -> new long[2]);
          counts[0] += t.candidates();
          counts[1] += t.pruned();
        }
      }
    }
    for (var t : tensors) {
      if (ModelCard.layerType(t.name()).equals("other")) {
        var counts = out.computeIfAbsent("other", k -> new long[2]);
        counts[0] += t.candidates();
        counts[1] += t.pruned();
      }
    }
    return out;
  }

  /** Grouped bars: one group per data set, one bar per variant, height = nDCG@10 on a 0..1 axis. */
  static String evaluationChart(RunReport report) {
    var datasets = datasets(report);
    var variants = variants(report);
    int barWidth = 26;
    int gap = 30;
    int plotHeight = 220;
    int left = 50;
    int groupWidth = variants.size() * barWidth;
    int width = left + datasets.size() * (groupWidth + gap) + 20;
    int legendHeight = 18 * variants.size();
    int height = plotHeight + 60 + legendHeight;
    var svg = new StringBuilder();
    svg.append(String.format(Locale.ROOT,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-size=\"11\">%n", width, height));
    axis(svg, left, plotHeight, width);
    for (int d = 0; d < datasets.size(); d++) {
      int x0 = left + 10 + d * (groupWidth + gap);
      for (int v = 0; v < variants.size(); v++) {
        Double value = value(report, variants.get(v), datasets.get(d), PRIMARY_METRIC);
        if (value == null) {
          continue;
        }
        double h = Math.max(0, Math.min(1, value)) * plotHeight;
        svg.append(String.format(Locale.ROOT,
            "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>%s %s %.4f</title></rect>%n",
            x0 + v * barWidth, 10 + plotHeight - h, barWidth - 2, h, PALETTE[v % PALETTE.length],
            escape(variants.get(v)), escape(datasets.get(d)), value));
        // the value itself: differences between methods are often a few thousandths, too small to see as height
        svg.append(String.format(Locale.ROOT,
            "<text x=\"%d\" y=\"%.1f\" font-size=\"8\" text-anchor=\"middle\">%.3f</text>%n",
            x0 + v * barWidth + (barWidth - 2) / 2, 10 + plotHeight - h - 3, value));
      }
      svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
          x0 + groupWidth / 2, plotHeight + 28, escape(datasets.get(d))));
    }
    for (int v = 0; v < variants.size(); v++) {
      int y = plotHeight + 46 + v * 18;
      svg.append(String.format(Locale.ROOT,
          "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>%n",
          left, y, PALETTE[v % PALETTE.length], left + 18, y + 10, escape(variants.get(v))));
    }
    return svg.append("</svg>\n").toString();
  }

  /** One bar per layer, height = its sparsity on a 0..1 axis. */
  static String layerChart(List<RunReport.LayerSparsity> layers) {
    int barWidth = Math.max(8, Math.min(40, 720 / Math.max(1, layers.size())));
    int plotHeight = 200;
    int left = 50;
    int width = left + layers.size() * barWidth + 30;
    var svg = new StringBuilder();
    svg.append(String.format(Locale.ROOT,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-size=\"10\">%n",
        width, plotHeight + 80));
    axis(svg, left, plotHeight, width);
    for (int i = 0; i < layers.size(); i++) {
      var layer = layers.get(i);
      double h = layer.sparsity() * plotHeight;
      int x = left + 10 + i * barWidth;
      svg.append(String.format(Locale.ROOT,
          "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>%s %.4f</title></rect>%n",
          x, 10 + plotHeight - h, barWidth - 2, h, LAYER_BAR, escape(layer.layer()), layer.sparsity()));
      svg.append(String.format(Locale.ROOT,
          "<text x=\"%d\" y=\"%d\" transform=\"rotate(60 %d %d)\">%s</text>%n",
          x + 2, plotHeight + 22, x + 2, plotHeight + 22, escape(layer.layer())));
    }
    return svg.append("</svg>\n").toString();
  }

  private static void axis(StringBuilder svg, int left, int plotHeight, int width) {
    for (int tick = 0; tick <= 4; tick++) {
      double y = 10 + plotHeight - tick * plotHeight / 4.0;
      svg.append(String.format(Locale.ROOT,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>%n",
          left, y, width - 10, y, left - 4, y + 4, tick / 4.0));
    }
  }

  static List<String> datasets(RunReport report) {
    var set = new LinkedHashSet<String>();
    report.evaluations().forEach(e -> set.add(e.dataset()));
    return new ArrayList<>(set);
  }

  private static List<String> variants(RunReport report) {
    var set = new LinkedHashSet<String>();
    report.evaluations().forEach(e -> set.add(e.variant()));
    return new ArrayList<>(set);
  }

  /** Metrics in the paper's order, then any others alphabetically, whatever order the maps iterate in. */
  private static List<String> metrics(RunReport report) {
    var set = new java.util.TreeSet<String>();
    report.evaluations().forEach(e -> set.addAll(e.metrics().keySet()));
    var ordered = new ArrayList<String>();
    for (String known : METRIC_ORDER) {
      if (set.remove(known)) {
        ordered.add(known);
      }
    }
    ordered.addAll(set);
    return ordered;
  }

  private static Double value(RunReport report, String variant, String dataset, String metric) {
    Map<String, Double> found = new LinkedHashMap<>();
    for (var e : report.evaluations()) {
      if (e.variant().equals(variant) && e.dataset().equals(dataset)) {
        found = e.metrics();
      }
    }
    return found.get(metric);
  }

  static String escape(String text) {
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
