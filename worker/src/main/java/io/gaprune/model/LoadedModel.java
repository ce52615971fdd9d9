package io.gaprune.model;

import com.google.gson.JsonObject;

/**
 * A model ready to encode text, with what a writer needs to save it again.
 *
 * @param encoder the architecture over its parameters (they belong to the manager given to the loader)
 * @param tokenizer the model's tokenizer (its {@code tokenizer.json} bytes are kept for writing)
 * @param source where it came from, for logs and reports (short name and resource, or folder)
 * @param hfConfig the Hugging Face {@code config.json} to write beside the weights: the folder's own
 *     (unknown fields preserved) or one synthesised for the ONNX short names
 */
public record LoadedModel(Encoder encoder, TextTokenizer tokenizer, String source, JsonObject hfConfig)
    implements AutoCloseable {

  public ModelConfig config() {
    return encoder.config();
  }

  /** Closes the tokenizer; the parameters are closed with their manager. */
  @Override
  public void close() {
    tokenizer.close();
  }
}
