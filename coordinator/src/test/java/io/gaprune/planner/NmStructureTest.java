package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonParser;
import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import io.gaprune.model.LayerType;
import io.gaprune.model.ModelLoader;
import io.gaprune.model.safetensors.SafetensorsFile;
import io.gaprune.pipeline.EncoderTensorSource;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.stats.StatisticsStep;
import io.gaprune.stats.TripletBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * N:M masks are exact: every group of M consecutive weights of a row keeps exactly N, and the N it keeps are
 * those a brute-force sort of the group's scores by (score, index) keeps, on tensors with many ties and on the
 * real MiniLM with its real gradient statistics, for every score-based method.
 */
class NmStructureTest {

  private static final Path DATA = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data"));

  @TempDir Path dir;

  /** The brute force: per group, sort (score, offset) ascending and prune the first M − N; nothing shared. */
  static byte[] bruteForce(double[] scores, Structure s) {
    var mask = new byte[scores.length];
    for (int base = 0; base < scores.length; base += s.m()) {
      final int b = base;
      var order = IntStream.range(0, s.m()).boxed()
          .sorted(Comparator.<Integer>comparingDouble(i -> scores[b + i] == 0.0 ? 0.0 : scores[b + i])
              .thenComparingInt(i -> i))
          .toList();
      for (int i = 0; i < s.m(); i++) {
        mask[b + order.get(i)] = (byte) (i < s.m() - s.n() ? 0 : 1);
      }
    }
    return mask;
  }

  static Map<String, byte[]> readMasks(Path file) throws IOException {
    var out = new LinkedHashMap<String, byte[]>();
    try (var f = SafetensorsFile.open(file)) {
      for (var t : f.tensors()) {
        out.put(t.name(), f.readRawBytes(t.name()));
      }
    }
    return out;
  }

  /**
   * Plans {@code config} on {@code source}, reads the written masks back and checks every group of every
   * candidate against the brute force on the scorer's scores, and the counts the plan and its JSON report.
   */
  void checkEveryGroup(TensorSource source, PlannerConfig config, String label) throws IOException {
    var structure = config.structure();
    var masksFile = dir.resolve("masks.safetensors");
    var statsFile = dir.resolve("plan.json");
    var plan = new Planner(config).plan(source, masksFile, statsFile);
    var masks = readMasks(masksFile);
    var scorer = new Scorer(config.scoring());
    long candidates = 0;
    long pruned = 0;
    for (var meta : source.tensors()) {
      if (!LayerType.isCandidate(config.layerTypes(), meta.name(), meta.shape())) {
        assertTrue(!masks.containsKey(meta.name()), label + ": " + meta.name() + " is no candidate");
        continue;
      }
      var mask = masks.get(meta.name());
      var scores = scorer.score(source.load(meta));
      assertEquals(0, meta.shape()[meta.shape().length - 1] % structure.m(), meta.name());
      for (int base = 0; base < mask.length; base += structure.m()) {
        int kept = 0;
        for (int i = 0; i < structure.m(); i++) {
          kept += mask[base + i];
        }
        assertEquals(structure.n(), kept, label + ": " + meta.name() + " group at " + base);
      }
      assertArrayEquals(bruteForce(scores, structure), mask, label + ": " + meta.name());
      candidates += mask.length;
      for (byte b : mask) {
        pruned += 1 - b;
      }
    }
    assertEquals(candidates, plan.candidates(), label);
    assertEquals(pruned, plan.pruned(), label);
    assertEquals(candidates / structure.m() * (structure.m() - structure.n()), pruned, label);
    assertEquals(structure, plan.structure());
    assertTrue(plan.selections().isEmpty(), label + ": N:M needs no selection");
    assertEquals(1, plan.passes(), label + ": one pass, the mask pass");
    var json = JsonParser.parseString(Files.readString(statsFile)).getAsJsonObject();
    assertEquals(structure.toString(), json.get("structure").getAsString());
    assertEquals("none", json.get("budget").getAsString());
    assertEquals(pruned, json.get("pruned").getAsLong());
    assertEquals(structure.sparsity(), json.get("requested_sparsity").getAsDouble());
    try (var f = SafetensorsFile.open(masksFile)) {
      assertEquals(structure.toString(), f.metadata().get("gaprune.structure"));
    }
  }

  @Test
  void everyGroupKeepsItsNBestOnTiedAndContinuousScores() throws IOException {
    var rnd = new SplittableRandom(19);
    long[][] small = {{3, 8}, {5, 24}, {2, 3, 16}, {1, 8}};
    long[][] wide = {{4, 96}, {2, 64}};
    for (int c = 0; c < 4; c++) {
      boolean ties = c % 2 == 0;
      var shapes = c < 2 ? small : wide;
      var tensors = new ArrayList<TensorInput>();
      for (int t = 0; t < shapes.length; t++) {
        int size = (int) Arrays.stream(shapes[t]).reduce(1, (a, b) -> a * b);
        var w = new float[size];
        for (int j = 0; j < size; j++) {
          // 3 values (and their signs) give ties inside most groups, including whole groups of one value
          w[j] = ties ? (float) (rnd.nextInt(3) * (rnd.nextBoolean() ? 1 : -1)) : (float) rnd.nextGaussian();
        }
        tensors.add(new TensorInput(new TensorMeta("layer." + t + ".intermediate.dense.weight", shapes[t]), w,
            null));
      }
      for (var s : c < 2 ? List.of("2:4", "1:4", "3:4", "4:8", "1:2", "3:8", "1:8", "7:8")
          : List.of("1:32", "5:32", "16:32", "31:32")) {
        var structure = Structure.parse(s);
        var config = PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE))
            .withStructure(structure);
        checkEveryGroup(new InMemoryTensorSource(tensors), config, s + (ties ? " ties" : " continuous"));
      }
    }
  }

  /**
   * Split over participants (as merger entities owning tensor groups plan), an N:M plan writes the same masks:
   * each group is decided inside the participant that holds its tensor, in its mask pass, the only pass.
   */
  @Test
  void participantsWriteTheSameNmMasks() throws IOException {
    var rnd = new SplittableRandom(23);
    var tensors = new ArrayList<TensorInput>();
    long[][] shapes = {{6, 16}, {3, 8}, {10, 24}, {2, 4}};
    for (int t = 0; t < shapes.length; t++) {
      var w = new float[(int) (shapes[t][0] * shapes[t][1])];
      for (int j = 0; j < w.length; j++) {
        w[j] = rnd.nextInt(3) - 1; // many ties
      }
      tensors.add(new TensorInput(new TensorMeta("layer." + t + ".output.dense.weight", shapes[t]), w, null));
    }
    var source = new InMemoryTensorSource(tensors);
    var config = PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE))
        .withStructure(Structure.parse("1:4"));
    var planner = new Planner(config);
    var layout = PlanLayout.of(config, source.tensors());
    assertEquals(0, layout.selectionCount());
    var single = new LinkedHashMap<String, byte[]>();
    var whole = planner.plan(layout, List.of(planner.share(layout, source, layout.candidates(),
        (t, m) -> single.put(t.name(), m))));
    var candidates = layout.candidates();
    assertTrue(candidates.size() >= 3, "the model must split");
    for (int cut = 1; cut < candidates.size(); cut++) {
      var split = new LinkedHashMap<String, byte[]>();
      var r = planner.plan(layout, List.of(
          planner.share(layout, source, candidates.subList(0, cut), (t, m) -> split.put(t.name(), m)),
          planner.share(layout, source, candidates.subList(cut, candidates.size()), (t, m) -> split.put(t.name(), m))));
      assertEquals(single.keySet(), split.keySet());
      single.forEach((name, m) -> assertArrayEquals(m, split.get(name), name));
      assertEquals(whole.pruned(), r.pruned());
      assertEquals(1, r.passes());
    }
    for (var t : candidates) {
      var scores = new Scorer(config.scoring()).score(source.load(t));
      assertArrayEquals(bruteForce(scores, config.structure()), single.get(t.name()), t.name());
    }
  }

  @Test
  void tiesArePrunedLowerIndexFirst() {
    // keys of scores 1, 1, 1, 1 | 0, 2, 0, 2: ties go first-come, as the unstructured planner prunes its ties
    var keys = Arrays.stream(new double[] {1, 1, 1, 1, 0, 2, 0, 2}).mapToLong(ScoreKeys::key).toArray();
    assertArrayEquals(new byte[] {0, 0, 1, 1, 0, 1, 0, 1}, NmSelection.mask(keys, Structure.parse("2:4")));
    assertArrayEquals(new byte[] {0, 0, 0, 1, 0, 0, 0, 1}, NmSelection.mask(keys, Structure.parse("1:4")));
    // −0 and +0 are one score; negatives below them
    var signed = Arrays.stream(new double[] {-0.0, 0.0, -1, 3}).mapToLong(ScoreKeys::key).toArray();
    assertArrayEquals(new byte[] {0, 1, 0, 1}, NmSelection.mask(signed, Structure.parse("2:4")));
  }

  /**
   * The real MiniLM, its real gradient statistics (one batch of 4 general and 4 domain triplets), every
   * score-based method at 2:4 on the MLP; two at 4:8 on every linear layer (attention too).
   */
  @Test
  void everyGroupOfMiniLmKeepsExactlyNForEveryMethod() throws Exception {
    var general = TripletReader.readAll(DATA.resolve("general/train.json")).subList(0, 4);
    var domain = TripletReader.readAll(DATA.resolve("chem/train.json")).subList(0, 4);
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load("minilm", manager, DataType.FLOAT32, 32)) {
      var encoder = model.encoder();
      var linear = LayerType.parse("linear");
      var partition = encoder.parameters().entrySet().stream()
          .filter(e -> LayerType.isCandidate(linear, e.getKey(), e.getValue().getShape().getShape()))
          .map(Map.Entry::getKey).toList();
      assertEquals(36, partition.size());
      MergedStatistics statistics;
      try (var batchManager = manager.newSubManager()) {
        var g = TripletBatch.tokenize(general, model.tokenizer(), model.config(), batchManager);
        var d = TripletBatch.tokenize(domain, model.tokenizer(), model.config(), batchManager);
        statistics = MergedStatistics.of(new StatisticsStep(encoder, partition).run(g, d));
      }
      var methods = List.of(ScoringMethod.DAI, ScoringMethod.DAI_REFERENCE, ScoringMethod.DAI_CALIBRATED,
          ScoringMethod.MAGNITUDE, ScoringMethod.FISHER_DOMAIN, ScoringMethod.FISHER_GENERAL, ScoringMethod.RANDOM);
      for (var method : methods) {
        var config = PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(method).withSeed(7))
            .withStructure(Structure.parse("2:4"));
        checkEveryGroup(new EncoderTensorSource(encoder, statistics, method == ScoringMethod.DAI_REFERENCE), config,
            method.cliName() + " 2:4 mlp");
      }
      for (var method : List.of(ScoringMethod.MAGNITUDE, ScoringMethod.DAI_CALIBRATED)) {
        var config = PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(method))
            .withLayerTypes(linear).withStructure(Structure.parse("4:8"));
        checkEveryGroup(new EncoderTensorSource(encoder, statistics, false), config, method.cliName() + " 4:8 linear");
      }
      // 384 and 1536 are no multiples of 5: refused before any pass, naming the tensors
      var fives = PlannerConfig.of(0.5).withStructure(Structure.parse("2:5"));
      var e = assertThrows(IllegalArgumentException.class,
          () -> new Planner(fives).plan(new EncoderTensorSource(encoder, statistics, false)));
      assertTrue(e.getMessage().contains("structure 2:5") && e.getMessage().contains("divisible by 5")
          && e.getMessage().contains("encoder.layer.0.intermediate.dense.weight [1536, 384]"), e.getMessage());
    }
  }

  @Test
  void badStructuresAndConflictingSparsitiesAreRefusedByName() {
    for (var bad : List.of("4:2", "2:2", "0:4", "2:", ":4", "2-4", "two:four", "", "unstructred", "-1:4")) {
      var e = assertThrows(IllegalArgumentException.class, () -> Structure.parse(bad), bad);
      assertTrue(e.getMessage().contains("\"" + bad + "\" is not valid") && e.getMessage().contains("2:4"),
          e.getMessage());
    }
    assertEquals(Structure.UNSTRUCTURED, Structure.parse(" Unstructured "));
    assertEquals(new Structure(2, 4), Structure.parse("2:4"));
    assertEquals("4:8", Structure.parse(" 4 : 8 ").toString());

    var nm = Structure.parse("2:4");
    assertEquals(0.5, nm.sparsity(null, 0.3));
    assertEquals(0.5, nm.sparsity(0.5, 0.3));
    var e = assertThrows(IllegalArgumentException.class, () -> nm.sparsity(0.7, 0.3));
    assertTrue(e.getMessage().contains("sparsity 0.7 conflicts with structure 2:4")
        && e.getMessage().contains("leave the sparsity out or give 0.5"), e.getMessage());
    assertEquals(2.0 / 3, Structure.parse("1:3").sparsity(0.6666666667, 0), 1e-15);
    assertEquals(0.3, Structure.UNSTRUCTURED.sparsity(0.3, 0.5));
    assertEquals(0.5, Structure.UNSTRUCTURED.sparsity(null, 0.5));

    // a configuration cannot claim another sparsity than its structure prunes; withStructure sets it
    assertEquals(0.75, PlannerConfig.of(0.1).withStructure(Structure.parse("1:4")).sparsity());
    var c = PlannerConfig.of(0.5).withStructure(nm);
    var conflict = assertThrows(IllegalArgumentException.class, () -> new PlannerConfig(c.scoring(),
        c.layerTypes(), 0.7, c.budget(), c.rhoMin(), c.rhoMax(), c.selectionMemoryBytes(), nm, c.layerBudgets()));
    assertTrue(conflict.getMessage().contains("structure 2:4 prunes exactly 0.5"), conflict.getMessage());
    // back to unstructured keeps the sparsity the structure set
    assertEquals(0.5, c.withStructure(Structure.UNSTRUCTURED).sparsity());

    // a row whose length M does not divide, in memory: named with its shape
    var odd = new TensorInput(new TensorMeta("layer.0.intermediate.dense.weight", new long[] {2, 6}), new float[12],
        null);
    var error = assertThrows(IllegalArgumentException.class, () -> Planner.plan(
        PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE))
            .withStructure(nm), List.of(odd)));
    assertTrue(error.getMessage().contains("layer.0.intermediate.dense.weight [2, 6]"), error.getMessage());
  }
}
