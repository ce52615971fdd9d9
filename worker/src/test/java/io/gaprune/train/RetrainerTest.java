package io.gaprune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import io.gaprune.model.ModelLoader;
import io.gaprune.progress.Progress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Retraining the real MiniLM for a few steps on real chemistry triplets. */
class RetrainerTest {

  private static List<Triplet> chemistry() {
    var root = Path.of(System.getProperty("gaprune.root", "."));
    return TripletReader.readAll(root.resolve("data/sample/chem-train.json")).subList(0, 64);
  }

  @Test
  void maskedWeightsStayExactlyZeroAndTheRestTrains() throws Exception {
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load("minilm", manager, DataType.FLOAT32, 48)) {
      var parameters = model.encoder().parameters();
      String pruned = "encoder.layer.0.intermediate.dense.weight";
      String free = "encoder.layer.1.output.dense.weight";
      NDArray weight = parameters.get(pruned);
      // Prune every other weight of one MLP tensor, as a plan would, and apply the mask.
      float[] maskValues = new float[(int) weight.size()];
      for (int i = 0; i < maskValues.length; i += 2) {
        maskValues[i] = 1;
      }
      NDArray mask = manager.create(maskValues, weight.getShape()).toType(DataType.UINT8, false);
      weight.muli(mask.toType(DataType.FLOAT32, false));
      float[] freeBefore = parameters.get(free).toFloatArray();

      var settings = new Retrainer.Settings(3, 4, 7, new MaskedAdamW.Settings(1e-3, 0.9, 0.999, 1e-8, 0.01));
      var result = Retrainer.retrain(model, Map.of(pruned, mask), chemistry(), settings, Progress.SILENT);

      assertEquals(3, result.losses().size());
      result.losses().forEach(loss -> assertTrue(Double.isFinite(loss) && loss > 0, "loss " + loss));
      float[] after = weight.toFloatArray();
      int changedKept = 0;
      for (int i = 0; i < after.length; i++) {
        if (i % 2 == 1) {
          assertEquals(0f, after[i], "pruned weight " + i + " came back");
        } else if (after[i] != 0f) {
          changedKept++;
        }
      }
      assertTrue(changedKept > after.length / 4, "kept weights should train, " + changedKept + " non-zero");
      assertNotEquals(freeBefore[0], parameters.get(free).toFloatArray()[0], "an unmasked tensor should train");
      assertTrue(parameters.values().stream().noneMatch(NDArray::hasGradient), "gradients left switched on");
    }
  }

  @Test
  void badSettingsAndMasksAreNamed() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> new Retrainer.Settings(-1, 4, 0, MaskedAdamW.Settings.defaults()));
    assertThrows(IllegalArgumentException.class, () -> new Retrainer.Settings(1, 1, 0, MaskedAdamW.Settings.defaults()));
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load("minilm", manager, DataType.FLOAT32, 32)) {
      var wrong = manager.ones(new ai.djl.ndarray.types.Shape(2, 2), DataType.UINT8);
      var settings = Retrainer.Settings.defaults(1, 0);
      var shape = assertThrows(IllegalArgumentException.class, () -> Retrainer.retrain(model,
          Map.of("encoder.layer.0.intermediate.dense.weight", wrong), chemistry(), settings, Progress.SILENT));
      assertTrue(shape.getMessage().contains("mask of encoder.layer.0.intermediate.dense.weight has shape"),
          shape.getMessage());
      var unknown = assertThrows(IllegalArgumentException.class,
          () -> Retrainer.retrain(model, Map.of("nope", wrong), chemistry(), settings, Progress.SILENT));
      assertTrue(unknown.getMessage().contains("unknown parameter nope"), unknown.getMessage());
      var few = assertThrows(IllegalArgumentException.class,
          () -> Retrainer.retrain(model, Map.of(), chemistry().subList(0, 3), settings, Progress.SILENT));
      assertTrue(few.getMessage().contains("at least 16"), few.getMessage());
    }
  }
}
