package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.onnx.OnnxModelLoader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Shared fixtures: the real exported models from the class path, read once per test JVM. */
public final class TestModels {

  /** Real sentences of different lengths, so batches carry padding. */
  public static final List<String> SENTENCES = List.of(
      "Benzene is an aromatic hydrocarbon.",
      "What is the boiling point of ethanol at sea level?",
      "A carboxylic acid is an organic acid containing a carboxyl group, R-COOH, where R is an organic group.",
      "Proteins fold.",
      "The enzyme catalyses the hydrolysis of ATP to ADP and inorganic phosphate, releasing energy that drives "
          + "the transport of sodium and potassium ions across the plasma membrane against their gradients.",
      "Stock markets fell sharply on Monday after the central bank raised interest rates.",
      "hydroxy fatty acid",
      "Any member of the class of organochlorine compounds that is an aromatic compound in which a chlorine "
          + "atom is attached to a benzene ring.");

  /**
   * Parsed weights, kept for the JVM (MiniLM and BGE: about 220 MB of float32). The raw model bytes are not
   * cached: several test JVMs share this machine's memory.
   */
  private static final Map<String, Map<String, OnnxModelLoader.HostTensor>> HOST = new ConcurrentHashMap<>();

  private TestModels() {}

  public static byte[] resource(String name) {
    try (var in = TestModels.class.getResourceAsStream("/" + name)) {
      if (in == null) {
        throw new IllegalStateException("class-path resource " + name + " not found");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Map<String, OnnxModelLoader.HostTensor> host(KnownModel model) {
    return HOST.computeIfAbsent(model.onnxResource, n -> {
      try (var in = TestModels.class.getResourceAsStream("/" + n)) {
        return OnnxModelLoader.readParameters(in, n);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  public static ModelConfig config(KnownModel model) {
    var shapes = new java.util.LinkedHashMap<String, long[]>();
    host(model).forEach((k, v) -> shapes.put(k, v.shape()));
    return model.config(shapes);
  }

  public static Map<String, NDArray> parameters(KnownModel model, NDManager manager, DataType dtype) {
    return OnnxModelLoader.toNDArrays(host(model), manager, dtype);
  }

  public static TextTokenizer tokenizer(KnownModel model, int maxLength) throws IOException {
    return TextTokenizer.fromJson(resource(model.tokenizerResource), model.tokenizerResource, maxLength,
        TextTokenizer.PaddingSide.RIGHT);
  }
}
