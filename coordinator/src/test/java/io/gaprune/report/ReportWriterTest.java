package io.gaprune.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;

class ReportWriterTest {

  private static RunReport sample() {
    var timings = new LinkedHashMap<String, Double>();
    timings.put("statistics", 12.5);
    timings.put("evaluation", 3.0);
    return new RunReport("compare", Map.of("model", "minilm", "sparsity", 0.5), 0.5, 0.5, 1000, 500, timings,
        List.of(new RunReport.LayerSparsity("layer.0", 600, 240), new RunReport.LayerSparsity("layer.1", 400, 260)),
        List.of(
            new RunReport.Evaluation("dense", "chem-dev", Map.of("ndcg@10", 0.345, "mrr@10", 0.31)),
            new RunReport.Evaluation("dai", "chem-dev", Map.of("ndcg@10", 0.34, "mrr@10", 0.30)),
            new RunReport.Evaluation("dense", "bio-dev", Map.of("ndcg@10", 0.5, "mrr@10", 0.45)),
            new RunReport.Evaluation("dai", "bio-dev", Map.of("ndcg@10", 0.25, "mrr@10", 0.2))),
        List.of("3 texts truncated to 128 tokens"));
  }

  @Test
  void writesJsonMarkdownAndHtml(@TempDir Path dir) throws Exception {
    var files = ReportWriter.write(sample(), dir);
    assertEquals(3, files.size());

    var json = JsonParser.parseString(Files.readString(dir.resolve("report.json"))).getAsJsonObject();
    assertEquals(0.5, json.get("sparsityActual").getAsDouble());
    assertEquals(4, json.getAsJsonArray("evaluations").size());
    assertEquals(240, json.getAsJsonArray("layers").get(0).getAsJsonObject().get("pruned").getAsLong());

    var markdown = Files.readString(dir.resolve("report.md"));
    // each data set's metrics, then the share of the dense nDCG@10 kept (0.34 / 0.345, 0.25 / 0.5)
    assertTrue(markdown.contains("| dai | 0.3400 | 0.3000 | 98.6% | 0.2500 | 0.2000 | 50.0% |"), markdown);
    assertTrue(markdown.contains("| layer.1 | 400 | 260 | 0.6500 |"), markdown);
    assertTrue(markdown.contains("warning: 3 texts truncated"), markdown);
    // the summary opens the report: model, data, sparsity of the candidate weights, share of dense kept
    var top = markdown.substring(0, markdown.indexOf("| variant |"));
    assertTrue(top.contains("| model | minilm |"), top);
    assertTrue(top.contains("| evaluated on | chem-dev, bio-dev |"), top);
    assertTrue(top.contains("500 of 1,000 candidate weights"), top);
    assertTrue(top.contains("| share of dense ndcg@10 kept | chem-dev: best dai 98.6%; bio-dev: best dai 50.0% |"),
        top);

    var html = Files.readString(dir.resolve("report.html"));
    assertTrue(!html.contains("<pre>") && !html.contains("|---"), "report.md pasted into the page");
    assertTrue(html.contains("<tr><td>dai</td><td>0.3400</td><td>0.3000</td><td>98.6%</td>"), html);
    assertTrue(html.contains("<th>sparsity</th><td>0.5000 requested, 0.500000 actual: 500 of 1,000 candidate "
        + "weights"), html);
  }

  /** A run's report names its variants' share of dense one by one. */
  @Test
  void runSummaryGivesEachVariantsShareOfDense() {
    var r = sample();
    var run = new RunReport("run", r.configuration(), 0.5, 0.5, 1000, 500, r.timingsSeconds(), r.layers(),
        r.evaluations(), r.warnings());
    var markdown = ReportWriter.toMarkdown(run);
    assertTrue(markdown.contains("| share of dense ndcg@10 kept | dai on chem-dev: 98.6%; dai on bio-dev: 50.0% |"),
        markdown);
  }

  /**
   * compare: one chart per data set, one polyline per method through the dense score at 0 and each sparsity's
   * score, a point's height following its value; the chosen method's per-tensor sparsity as a heat map.
   */
  @Test
  void compareDrawsNdcgAgainstSparsityPerMethodAndAHeatMap(@TempDir Path dir) throws Exception {
    ReportWriter.write(ReportSamples.compare(), dir);
    var document = xhtml(dir.resolve("report.html"));
    var charts = elements(document, "svg").stream().filter(e -> e.getAttribute("class").equals("sparsity-chart"))
        .toList();
    assertEquals(ReportSamples.DATASETS, charts.stream().map(e -> e.getAttribute("data-dataset")).toList());
    for (var chart : charts) {
      var lines = chart.getElementsByTagNameNS(SVG, "polyline");
      assertEquals(ReportSamples.METHODS.size(), lines.getLength());
      var dataset = chart.getAttribute("data-dataset");
      for (int i = 0; i < lines.getLength(); i++) {
        var line = (Element) lines.item(i);
        var method = line.getAttribute("data-method");
        var points = line.getAttribute("points").trim().split("\\s+");
        assertEquals(1 + ReportSamples.SPARSITIES.size(), points.length, method);
        double[] y = new double[points.length];
        double[] x = new double[points.length];
        for (int p = 0; p < points.length; p++) {
          x[p] = Double.parseDouble(points[p].split(",")[0]);
          y[p] = Double.parseDouble(points[p].split(",")[1]);
        }
        // x grows with sparsity; y (downwards) by the drop in nDCG@10, to scale
        assertTrue(x[0] < x[1] && x[1] < x[2], method);
        double perUnit = (y[2] - y[0]) / (ReportSamples.ndcg(dataset, "x", 0) - ReportSamples.ndcg(dataset, method, 0.7));
        assertEquals(ReportSamples.ndcg(dataset, "x", 0) - ReportSamples.ndcg(dataset, method, 0.5),
            (y[1] - y[0]) / perUnit, 1e-3, method + " on " + dataset);
      }
      assertEquals(1, countWithClass(chart, "dense-line"), "one dashed dense line");
    }
    var cells = elements(document, "rect").stream().filter(e -> e.getAttribute("class").equals("cell")).toList();
    assertEquals(4, cells.size());
    assertEquals(235_930 / 589_824.0, Double.parseDouble(cells.get(0).getAttribute("data-sparsity")), 1e-6);
    var markdown = Files.readString(dir.resolve("report.md"));
    assertTrue(markdown.contains("planned at [0.5, 0.7]; dai-calibrated@50:"), markdown);
    assertTrue(markdown.contains("chem/dev at 50%: best dai-calibrated 98.6%"), markdown);
  }

  private static final String SVG = "http://www.w3.org/2000/svg";

  private static long countWithClass(Element svg, String cssClass) {
    var lines = svg.getElementsByTagNameNS(SVG, "line");
    long count = 0;
    for (int i = 0; i < lines.getLength(); i++) {
      if (((Element) lines.item(i)).getAttribute("class").equals(cssClass)) {
        count++;
      }
    }
    return count;
  }

  static org.w3c.dom.Document xhtml(Path file) throws Exception {
    var factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    var html = Files.readString(file).replace("<!DOCTYPE html>", "");
    return factory.newDocumentBuilder().parse(new java.io.ByteArrayInputStream(
        html.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  private static List<Element> elements(org.w3c.dom.Document document, String svgTag) {
    var list = document.getElementsByTagNameNS(SVG, svgTag);
    var out = new java.util.ArrayList<Element>();
    for (int i = 0; i < list.getLength(); i++) {
      out.add((Element) list.item(i));
    }
    return out;
  }

  /** The page is well-formed XHTML and each bar's height is its value on the chart's scale. */
  /**
   * compare with 2:4 rows beside the unstructured ones: the summary names the points and the chosen plan's
   * structure, the best method is given per point (2:4 its own), and the sparsity chart keeps only the
   * unstructured points (a 2:4 row at 50% on the axis would be read as 50% unstructured).
   */
  @Test
  void structuredRowsAreTheirOwnPointAndStayOffTheSparsityAxis(@TempDir Path dir) throws Exception {
    var base = ReportSamples.compare();
    var evaluations = new java.util.ArrayList<>(base.evaluations());
    for (var method : ReportSamples.METHODS) {
      for (var dataset : ReportSamples.DATASETS) {
        // magnitude best at 2:4, unlike at 50% and 70%
        double ndcg = ReportSamples.ndcg(dataset, "x", 0) - (method.equals("magnitude") ? 0.001 : 0.05);
        evaluations.add(new RunReport.Evaluation(method + "@2:4", dataset, Map.of("ndcg@10", ndcg, "mrr@10", 0.2),
            method, 0.5, "2:4"));
      }
    }
    var configuration = new java.util.LinkedHashMap<>(base.configuration());
    configuration.put("points", List.of("50", "70", "2:4"));
    configuration.put("structure", "2:4");
    var report = new RunReport("compare", configuration, 0.5, 0.5, base.candidates(), base.candidates() / 2,
        base.timingsSeconds(), base.layers(), evaluations, List.of(), null, "magnitude@2:4", base.tensors());
    ReportWriter.write(report, dir);
    var markdown = Files.readString(dir.resolve("report.md"));
    assertTrue(markdown.contains("planned at 50%, 70%, 2:4; magnitude@2:4: 0.5000 requested"), markdown);
    assertTrue(markdown.contains("; structure 2:4: every group of 4 consecutive input weights of a row keeps its 2 "
        + "best (no budget)"), markdown);
    assertTrue(markdown.contains("chem/dev at 50%: best dai-calibrated 98.6%; chem/dev at 70%: best dai-calibrated")
        && markdown.contains("chem/dev at 2:4: best magnitude 99.7%"), markdown);
    assertTrue(markdown.contains("| magnitude@2:4 |"), markdown);
    // the same charts as without the 2:4 rows (which, at 0.5, would otherwise replace the 50% points)
    assertTrue(!ReportWriter.sparsityCharts(base).isEmpty());
    assertEquals(ReportWriter.sparsityCharts(base), ReportWriter.sparsityCharts(report));
    xhtml(dir.resolve("report.html")); // well-formed
    var json = com.google.gson.JsonParser.parseString(Files.readString(dir.resolve("report.json")))
        .getAsJsonObject().getAsJsonArray("evaluations");
    assertEquals("2:4", json.get(json.size() - 1).getAsJsonObject().get("structure").getAsString());
    assertEquals("unstructured", json.get(2).getAsJsonObject().get("structure").getAsString());
  }

  @Test
  void barsAreProportionalToTheValues(@TempDir Path dir) throws Exception {
    ReportWriter.write(sample(), dir);
    var factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    var builder = factory.newDocumentBuilder();
    var html = Files.readString(dir.resolve("report.html")).replace("<!DOCTYPE html>", "");
    var document = builder.parse(new java.io.ByteArrayInputStream(html.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    var rects = document.getElementsByTagNameNS("http://www.w3.org/2000/svg", "rect");
    var heights = new java.util.ArrayList<Double>();
    for (int i = 0; i < rects.getLength(); i++) {
      var rect = (Element) rects.item(i);
      if ("bar".equals(rect.getAttribute("class"))) {
        heights.add(Double.parseDouble(rect.getAttribute("height")));
      }
    }
    // 4 evaluation bars on a 220-pixel axis, then 2 layer bars on a 200-pixel one.
    double[] expected = {0.345 * 220, 0.34 * 220, 0.5 * 220, 0.25 * 220, 0.4 * 200, 0.65 * 200};
    assertEquals(expected.length, heights.size());
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], heights.get(i), 0.05, "bar " + i);
    }
  }

  @Test
  void escapesMarkup() {
    assertEquals("a&lt;b&gt;&amp;&quot;", ReportWriter.escape("a<b>&\""));
  }
}
