package io.gaprune.report;

import com.google.gson.GsonBuilder;
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

/**
 * Writes a {@link RunReport} three ways: {@code report.json} for programs, {@code report.md} for reading and
 * {@code report.html} (self-contained, inline SVG, no script) for people who would rather look than read.
 */
public final class ReportWriter {

  static final String PRIMARY_METRIC = "ndcg@10";
  private static final List<String> METRIC_ORDER = List.of("ndcg@10", "mrr@10", "recall@10", "recall@100");
  private static final String[] PALETTE = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
      "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

  private ReportWriter() {}

  /** Writes the three files into {@code dir} (created if missing) and returns their paths. */
  public static List<Path> write(RunReport report, Path dir) {
    try {
      Files.createDirectories(dir);
      var json = dir.resolve("report.json");
      var markdown = dir.resolve("report.md");
      var html = dir.resolve("report.html");
      Files.writeString(json, toJson(report), StandardCharsets.UTF_8);
      Files.writeString(markdown, toMarkdown(report), StandardCharsets.UTF_8);
      Files.writeString(html, toHtml(report), StandardCharsets.UTF_8);
      return List.of(json, markdown, html);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the report into " + dir + ": " + e.getMessage(), e);
    }
  }

  public static String toJson(RunReport report) {
    return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(report)
        + "\n";
  }

  /** The evaluation table, one row per variant, one column per data set and metric, like the paper's. */
  public static String toMarkdown(RunReport report) {
    var out = new StringBuilder();
    out.append("# gaprune ").append(report.command()).append("\n\n");
    out.append(String.format(Locale.ROOT, "Sparsity requested %.4f, actual %.6f (%,d of %,d candidate weights).%n%n",
        report.sparsityRequested(), report.sparsityActual(), report.pruned(), report.candidates()));
    var datasets = datasets(report);
    var metrics = metrics(report);
    if (!report.evaluations().isEmpty()) {
      out.append("| variant |");
      for (String dataset : datasets) {
        for (String metric : metrics) {
          out.append(' ').append(dataset).append(' ').append(metric).append(" |");
        }
      }
      out.append("\n|---|");
      out.append("---:|".repeat(datasets.size() * metrics.size()));
      out.append('\n');
      for (String variant : variants(report)) {
        out.append("| ").append(variant).append(" |");
        for (String dataset : datasets) {
          for (String metric : metrics) {
            Double value = value(report, variant, dataset, metric);
            out.append(value == null ? " – |" : String.format(Locale.ROOT, " %.4f |", value));
          }
        }
        out.append('\n');
      }
      out.append('\n');
    }
    if (!report.layers().isEmpty()) {
      out.append("| layer | candidates | pruned | sparsity |\n|---|---:|---:|---:|\n");
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

  public static String toHtml(RunReport report) {
    var out = new StringBuilder();
    out.append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><meta charset=\"utf-8\"/>")
        .append("<title>gaprune ").append(escape(report.command())).append("</title>")
        .append("<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}")
        .append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th:first-child,td:first-child")
        .append("{text-align:left}</style></head><body>\n");
    out.append("<h1>gaprune ").append(escape(report.command())).append("</h1>\n");
    out.append(String.format(Locale.ROOT, "<p>Sparsity requested %.4f, actual %.6f (%,d of %,d weights).</p>%n",
        report.sparsityRequested(), report.sparsityActual(), report.pruned(), report.candidates()));
    if (!report.evaluations().isEmpty()) {
      out.append("<h2>Retrieval, ").append(PRIMARY_METRIC).append("</h2>\n");
      out.append(evaluationChart(report));
    }
    if (!report.layers().isEmpty()) {
      out.append("<h2>Sparsity per layer</h2>\n");
      out.append(layerChart(report.layers()));
    }
    out.append("<h2>Tables</h2>\n<pre>").append(escape(toMarkdown(report))).append("</pre>\n");
    out.append("</body></html>\n");
    return out.toString();
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
          x, 10 + plotHeight - h, barWidth - 2, h, PALETTE[0], escape(layer.layer()), layer.sparsity()));
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

  private static List<String> datasets(RunReport report) {
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
