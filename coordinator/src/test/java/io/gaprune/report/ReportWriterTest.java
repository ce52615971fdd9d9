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
    assertTrue(markdown.contains("| dai | 0.3400 | 0.3000 | 0.2500 | 0.2000 |"), markdown);
    assertTrue(markdown.contains("| layer.1 | 400 | 260 | 0.6500 |"), markdown);
    assertTrue(markdown.contains("warning: 3 texts truncated"), markdown);
  }

  /** The page is well-formed XHTML and each bar's height is its value on the chart's scale. */
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
