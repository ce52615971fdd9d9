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
 * @param tokenizerConfig the folder's {@code tokenizer_config.json} as it was, or null when the model came
 *     without one (the writer then writes the family's upstream file, {@link TokenizerConfigFile})
 */
public record LoadedModel(Encoder encoder, TextTokenizer tokenizer, String source, JsonObject hfConfig,
    JsonObject tokenizerConfig) implements AutoCloseable {

  /** A model that came without a {@code tokenizer_config.json}. */
  public LoadedModel(Encoder encoder, TextTokenizer tokenizer, String source, JsonObject hfConfig) {
    this(encoder, tokenizer, source, hfConfig, null);
  }

  public ModelConfig config() {
    return encoder.config();
  }

  /** Closes the tokenizer; the parameters are closed with their manager. */
  @Override
  public void close() {
    tokenizer.close();
  }
}
