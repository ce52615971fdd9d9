package io.gaprune.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.gaprune.model.Encoder;
import io.gaprune.model.safetensors.SafetensorsFile;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import io.gaprune.report.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;

/** Pruning masks (1 kept, 0 pruned, one U8 tensor per candidate) read from safetensors and applied to a model. */
public final class Masks {

  private Masks() {}

  /** Reads every mask of {@code file} as raw bytes, by tensor name, in the file's order. */
  public static Map<String, byte[]> read(Path file) throws IOException {
    var masks = new LinkedHashMap<String, byte[]>();
    try (var safetensors = SafetensorsFile.open(file)) {
      for (var info : safetensors.tensors()) {
        masks.put(info.name(), safetensors.readRawBytes(info.name()));
      }
    }
    return masks;
  }

  /**
   * Replaces the values of {@code file}'s masks with {@code masks} (the same tensors and shapes, the metadata with
   * {@code extraMetadata} added), written beside and renamed, so the file is whole at every moment.
   *
   * @throws IllegalArgumentException when {@code masks} names other tensors or sizes than the file holds
   */
  public static void rewrite(Path file, Map<String, byte[]> masks, Map<String, String> extraMetadata)
      throws IOException {
    List<TensorSpec> specs = new ArrayList<>();
    Map<String, String> metadata;
    try (var safetensors = SafetensorsFile.open(file)) {
      for (var info : safetensors.tensors()) {
        var values = masks.get(info.name());
        if (values == null || values.length != info.end() - info.begin()) {
          throw new IllegalArgumentException("new masks for " + file + " lack tensor " + info.name()
              + " or have the wrong size");
        }
        specs.add(new TensorSpec(info.name(), info.dtype(), info.shape()));
      }
      metadata = new LinkedHashMap<>(safetensors.metadata());
      metadata.putAll(extraMetadata);
    }
    if (specs.size() != masks.size()) {
      throw new IllegalArgumentException("new masks for " + file + " name " + masks.size() + " tensors, the file "
          + specs.size());
    }
    var partial = AtomicFiles.temporary(file);
    try {
      var writer = SafetensorsWriter.create(partial, specs, metadata);
      try {
        for (var spec : specs) {
          writer.writeBytes(spec.name(), masks.get(spec.name()));
        }
        writer.close();
        writer = null;
      } finally {
        if (writer != null) {
          writer.abort();
        }
      }
      AtomicFiles.commit(partial, file);
    } finally {
      java.nio.file.Files.deleteIfExists(partial);
    }
  }

  /**
   * Zeroes the pruned weights of {@code encoder} in place and returns the masks as U8 arrays of
   * {@code manager} (what retraining holds fixed).
   *
   * @throws IllegalArgumentException for a mask of an unknown tensor, of the wrong size, or with a value
   *     other than 0 and 1
   */
  public static Map<String, NDArray> apply(Encoder encoder, Map<String, byte[]> masks, NDManager manager) {
    var parameters = encoder.parameters();
    for (var entry : masks.entrySet()) {
      var weight = parameters.get(entry.getKey());
      if (weight == null) {
        throw new IllegalArgumentException("mask for " + entry.getKey() + ", which the model does not have");
      }
      if (entry.getValue().length != weight.size()) {
        throw new IllegalArgumentException("mask for " + entry.getKey() + " has " + entry.getValue().length
            + " values, the tensor " + weight.size() + " " + weight.getShape());
      }
      for (int i = 0; i < entry.getValue().length; i++) {
        byte b = entry.getValue()[i];
        if (b != 0 && b != 1) {
          throw new IllegalArgumentException("mask for " + entry.getKey() + " holds " + b + " at " + i
              + "; masks hold 0 (pruned) and 1 (kept)");
        }
      }
    }
    var arrays = new LinkedHashMap<String, NDArray>();
    for (var entry : masks.entrySet()) {
      var weight = parameters.get(entry.getKey());
      Shape shape = weight.getShape();
      NDArray mask = manager.create(java.nio.ByteBuffer.wrap(entry.getValue()), shape, DataType.UINT8);
      try (NDManager scratch = manager.newSubManager()) {
        scratch.tempAttachAll(weight, mask);
        // ·mask then +0: a pruned weight becomes +0 even where it was negative (w·0 = −0)
        weight.muli(mask.toType(weight.getDataType(), false)).addi(0.0);
      }
      arrays.put(entry.getKey(), mask);
    }
    return arrays;
  }

  /** Pruned weights (mask 0) over all masks. */
  public static long prunedCount(Map<String, byte[]> masks) {
    return masks.values().stream().mapToLong(io.gaprune.planner.PlanResult::pruned).sum();
  }
}
