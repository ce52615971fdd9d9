package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonParser;
import io.gaprune.cli.CompareCommand;
import io.gaprune.cli.RunCommand;
import io.gaprune.data.TripletReader;
import io.gaprune.data.TripletWriter;
import io.gaprune.model.ModelLoader;
import io.gaprune.model.safetensors.SafetensorsFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code run --structure 2:4} and {@code compare --structures unstructured,2:4} end to end on the real MiniLM,
 * kept small (16 + 16 calibration triplets, a 20-query slice of the chemistry dev set): the written masks keep
 * 2 of every 4, the written model holds zeros exactly where they prune and the dense weights elsewhere, and the
 * reports say which structure was applied. The statistics {@code run} saves keep Σx² though its scoring reads
 * none, so Wanda plans from them; SparseGPT, whose Gram matrices they lack, is refused before the model loads.
 */
@Tag("slow")
class StructuredPipelineTest {

  @TempDir Path dir;

  private static int execute(Object command, String... args) {
    var err = new StringWriter();
    int code = new CommandLine(command).setErr(new PrintWriter(err)).setOut(new PrintWriter(new StringWriter()))
        .execute(args);
    assertEquals(0, code, String.join(" ", args) + " failed: " + err);
    return code;
  }

  private static String failure(Object command, String... args) {
    var err = new StringWriter();
    int code = new CommandLine(command).setErr(new PrintWriter(err)).setOut(new PrintWriter(new StringWriter()))
        .execute(args);
    assertEquals(1, code, String.join(" ", args) + " should have failed");
    return err.toString();
  }

  /** Every group of 4 consecutive input weights of every row keeps exactly 2; returns the pruned count. */
  private static long checkTwoOfFour(Map<String, byte[]> masks) {
    long pruned = 0;
    for (var e : masks.entrySet()) {
      var mask = e.getValue();
      for (int base = 0; base < mask.length; base += 4) {
        assertEquals(2, mask[base] + mask[base + 1] + mask[base + 2] + mask[base + 3], e.getKey() + " at " + base);
      }
      pruned += Masks.prunedCount(Map.of(e.getKey(), mask));
    }
    return pruned;
  }

  @Test
  void runAndCompareWriteTwoOfFourMasksModelsAndReports() throws Exception {
    var root = Path.of(System.getProperty("gaprune.root", "."));
    var sample = root.resolve("data/sample");
    var general = dir.resolve("general.json");
    var domain = dir.resolve("domain.json");
    TripletWriter.write(TripletReader.readAll(sample.resolve("general-train.json")).subList(0, 16), general);
    TripletWriter.write(TripletReader.readAll(sample.resolve("chem-train.json")).subList(0, 16), domain);
    var beir = SmallBeir.slice(sample.resolve("chem-dev"), dir.resolve("chem-small"), 20, 100);
    var out = dir.resolve("run");
    String[] common = {"--general", general.toString(), "--domain", domain.toString(), "--eval", beir.toString(),
        "--samples", "0", "--max-length", "32", "--batch-size", "4", "--seed", "3", "--quiet"};

    execute(new RunCommand(), concat(common, "--out", out.toString(), "--structure", "2:4", "--save-statistics"));

    var masks = Masks.read(out.resolve("masks.safetensors"));
    assertEquals(12, masks.size());
    long candidates = masks.values().stream().mapToLong(m -> m.length).sum();
    assertEquals(candidates / 2, checkTwoOfFour(masks));
    try (var file = SafetensorsFile.open(out.resolve("masks.safetensors"))) {
      assertEquals("2:4", file.metadata().get("gaprune.structure"));
      assertEquals("none", file.metadata().get("gaprune.budget"));
    }
    // The written model: every pruned weight is zero, every kept weight the dense model's (no retraining).
    // Kept weights may be zero too, so the masks, not the zeros, say which are pruned.
    try (var manager = NDManager.newBaseManager();
        var dense = ModelLoader.load("minilm", manager, DataType.FLOAT32, 32);
        var written = SafetensorsFile.open(out.resolve("model/model.safetensors"))) {
      var names = new HashMap<String, String>(); // mask name -> checkpoint name (the writer may add a prefix)
      for (var t : written.tensors()) {
        masks.keySet().stream().filter(m -> t.name().equals(m) || t.name().endsWith("." + m)
            || m.endsWith("." + t.name())).forEach(m -> names.put(m, t.name()));
      }
      assertEquals(masks.keySet(), names.keySet());
      for (var e : masks.entrySet()) {
        var mask = e.getValue();
        var values = new float[mask.length];
        written.readFloats(names.get(e.getKey()), 0, values, 0, values.length);
        var original = dense.encoder().parameters().get(e.getKey()).toFloatArray();
        for (int i = 0; i < mask.length; i++) {
          if (mask[i] == 0) {
            assertEquals(0f, values[i], e.getKey() + " [" + i + "] is pruned");
          } else {
            assertEquals(original[i], values[i], e.getKey() + " [" + i + "] is kept");
          }
        }
      }
    }
    var report = JsonParser.parseString(Files.readString(out.resolve("report.json"))).getAsJsonObject();
    var configuration = report.getAsJsonObject("configuration");
    assertEquals("2:4", configuration.get("structure").getAsString());
    assertEquals("none (2:4)", configuration.get("budget").getAsString());
    assertEquals(0.5, report.get("sparsityActual").getAsDouble());
    var pruned = report.getAsJsonArray("evaluations").get(1).getAsJsonObject();
    assertEquals("2:4", pruned.get("structure").getAsString());
    assertTrue(Files.readString(out.resolve("report.md")).contains("structure 2:4: every group of 4 consecutive "
        + "input weights of a row keeps its 2 best (no budget)"));
    assertTrue(Files.readString(out.resolve("model/README.md")).contains("| structure | `2:4` |"));
    var plan = JsonParser.parseString(Files.readString(out.resolve("plan.json"))).getAsJsonObject();
    assertEquals("2:4", plan.get("structure").getAsString());

    // run's dai-calibrated reads no input statistics, yet the saved file keeps Σx² for wanda and budget owl;
    // the Gram matrices only a method that reads them asks for, and planning sparsegpt from the file says so
    var saved = out.resolve("statistics.safetensors");
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_NORMS, io.gaprune.stats.StatisticsFile.contents(saved)
        .inputs());
    var refused = failure(new CompareCommand(), concat(common, "--out", dir.resolve("refused").toString(),
        "--statistics", saved.toString(), "--methods", "wanda,sparsegpt", "--sparsities", "0.5"));
    assertTrue(refused.contains("statistics file " + saved + " holds input statistics Σx² (no Gram matrices "
        + "Σx·xᵀ), but sparsegpt needs the Gram matrices Σx·xᵀ: compute the statistics again with --save-statistics and "
        + "sparsegpt among the methods"), refused);
    // the adaptive reconstruction's prior is the calibrated score less 2·log|θ|: a post-process would change it,
    // and the power must be a number ≥ 0; both refused before the statistics are read
    refused = failure(new CompareCommand(), concat(common, "--out", dir.resolve("refused-post").toString(),
        "--statistics", saved.toString(), "--methods", "dai-calibrated:adaptive=1", "--post-process", "rank"));
    assertTrue(refused.contains("method \"dai-calibrated:adaptive=1\": adaptive weighs SparseGPT's saliency by the "
        + "calibrated score less its magnitude term, which --post-process rank changes"), refused);
    refused = failure(new CompareCommand(), concat(common, "--out", dir.resolve("refused-power").toString(),
        "--statistics", saved.toString(), "--methods", "dai-calibrated:adaptive=-2"));
    assertTrue(refused.contains("adaptive must be a number ≥ 0"), refused);

    // compare from the saved statistics: every method at 70% and at 2:4, one row each; the calibrated DAI also
    // under its own row budget
    var table = dir.resolve("compare");
    execute(new CompareCommand(), concat(common, "--out", table.toString(), "--statistics",
        saved.toString(), "--methods", "magnitude,dai-calibrated,wanda,dai-calibrated:budget=rows", "--sparsities",
        "0.7", "--structures", "unstructured,2:4"));
    var compared = JsonParser.parseString(Files.readString(table.resolve("report.json"))).getAsJsonObject();
    var variants = new java.util.ArrayList<String>();
    compared.getAsJsonArray("evaluations").forEach(e -> variants.add(e.getAsJsonObject().get("variant").getAsString()
        + " " + (e.getAsJsonObject().has("structure") ? e.getAsJsonObject().get("structure").getAsString() : "-")));
    assertEquals(List.of("dense -", "magnitude@70 unstructured", "dai-calibrated@70 unstructured",
        "wanda@70 unstructured", "dai-calibrated:budget=rows@70 unstructured", "magnitude@2:4 2:4",
        "dai-calibrated@2:4 2:4", "wanda@2:4 2:4", "dai-calibrated:budget=rows@2:4 2:4"), variants);
    // the entry's row budget (Wanda's rule): a tensor prunes k = floor(0.7 · size), k / rows in every output row
    // and one more in the first k mod rows, unlike the run's global budget; under 2:4 no budget is used, so its
    // masks are the plain entry's
    var rows70 = Masks.read(table.resolve("masks/dai-calibrated_budget_rows@70.safetensors"));
    var global70 = Masks.read(table.resolve("masks/dai-calibrated@70.safetensors"));
    boolean differs = false;
    try (var file = SafetensorsFile.open(out.resolve("model/model.safetensors"))) {
      for (var e : rows70.entrySet()) {
        var shape = file.tensors().stream().filter(t -> t.name().equals(e.getKey()) || t.name().endsWith("."
            + e.getKey())).findFirst().orElseThrow().shape();
        int cols = (int) shape[1];
        var mask = e.getValue();
        int rows = mask.length / cols;
        long k = io.gaprune.planner.Budgets.floorOf(0.7, mask.length);
        for (int row = 0; row < rows; row++) {
          int kept = 0;
          for (int j = 0; j < cols; j++) {
            kept += mask[row * cols + j];
          }
          assertEquals(cols - k / rows - (row < k % rows ? 1 : 0), kept, e.getKey() + " row " + row);
        }
        differs |= !java.util.Arrays.equals(mask, global70.get(e.getKey()));
      }
    }
    assertTrue(differs, "budget=rows planned the run's global budget");
    var rowsNm = Masks.read(table.resolve("masks/dai-calibrated_budget_rows@2_4.safetensors"));
    Masks.read(table.resolve("masks/dai-calibrated@2_4.safetensors"))
        .forEach((name, m) -> assertArrayEquals(m, rowsNm.get(name), name));
    // run with such an entry: its masks are compare's, and the report and model card name the budget that pruned
    var rowsRun = dir.resolve("rows-run");
    execute(new RunCommand(), concat(common, "--out", rowsRun.toString(), "--statistics", saved.toString(),
        "--scoring", "dai-calibrated:budget=rows", "--sparsity", "0.7"));
    var runMasks = Masks.read(rowsRun.resolve("masks.safetensors"));
    rows70.forEach((name, m) -> assertArrayEquals(m, runMasks.get(name), name));
    var runConfiguration = JsonParser.parseString(Files.readString(rowsRun.resolve("report.json"))).getAsJsonObject()
        .getAsJsonObject("configuration");
    assertEquals("rows", runConfiguration.get("budget").getAsString());
    assertTrue(Files.readString(rowsRun.resolve("model/README.md")).contains("| budget | `rows` |"));
    for (var method : List.of("magnitude", "dai-calibrated")) {
      var nm = Masks.read(table.resolve("masks/" + method + "@2_4.safetensors"));
      assertEquals(candidates / 2, checkTwoOfFour(nm));
      assertEquals(io.gaprune.planner.Budgets.floorOf(0.7, candidates),
          Masks.prunedCount(Masks.read(table.resolve("masks/" + method + "@70.safetensors"))));
    }
    // wanda from the file: 2 of 4 in every group, and at 70% exactly floor(0.7·n) of every tensor (its budget is
    // per layer, so the total is the sum of the tensors' floors)
    assertEquals(candidates / 2, checkTwoOfFour(Masks.read(table.resolve("masks/wanda@2_4.safetensors"))));
    var wanda70 = Masks.read(table.resolve("masks/wanda@70.safetensors"));
    assertEquals(masks.keySet(), wanda70.keySet());
    for (var e : wanda70.entrySet()) {
      assertEquals(io.gaprune.planner.Budgets.floorOf(0.7, e.getValue().length),
          Masks.prunedCount(Map.of(e.getKey(), e.getValue())), e.getKey());
    }
    // run's dai-calibrated 2:4 masks are compare's: the same statistics, the same plan
    var same = Masks.read(table.resolve("masks/dai-calibrated@2_4.safetensors"));
    masks.forEach((name, m) -> assertTrue(java.util.Arrays.equals(m, same.get(name)), name));
    var markdown = Files.readString(table.resolve("report.md"));
    assertTrue(markdown.contains("planned at 70%, 2:4; ") && markdown.contains("at 2:4: best ")
        && markdown.contains("at 70%: best "), markdown);
    assertTrue(markdown.contains("| magnitude@2:4 |") && markdown.contains("| wanda@2:4 |"), markdown);
    // the sparsity chart draws the unstructured points only: one line per method, not two
    var html = Files.readString(table.resolve("report.html"));
    assertEquals(4, html.split("class=\"method-line\"", -1).length - 1, html);
  }

  private static String[] concat(String[] a, String... b) {
    var all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}
