package io.gaprune.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.ModelLoader;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The whole evaluation on the real chem dev set reproduces the ONNX Runtime reference of the data README
 * (all-MiniLM-L6-v2, mean pooling, cosine: nDCG@10 = 0.345). About 1.5 minutes on 2 cores.
 */
@Tag("slow")
class RetrievalEvaluatorSlowTest {

  @Test
  void minilmOnChemDevReproducesTheReferenceNdcg() throws Exception {
    var dir = Path.of(System.getProperty("gaprune.shared.data"), "chem", "dev");
    var data = BeirReader.read(dir, System.err);
    try (var manager = NDManager.newBaseManager(); var model = ModelLoader.load("minilm", manager, DataType.FLOAT32)) {
      var r = new RetrievalEvaluator(32, io.gaprune.progress.Progress.SILENT).evaluate(model, data);
      System.out.println(r);
      assertEquals(400, r.queries());
      assertEquals(5000, r.corpus());
      assertEquals(0, r.truncatedDocuments(), "the default max length must keep every chem passage whole");
      assertEquals(0.345, r.ndcg10(), 0.003, "nDCG@10");
      assertTrue(r.recall100() >= r.recall10() && r.mrr10() <= r.recall10() + 1e-12, r.toString());
    }
  }
}
