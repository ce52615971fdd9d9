package io.gaprune.model.safetensors;

import java.io.IOException;

/** A safetensors file or index that cannot be read as asked; the message names the file and the problem. */
public class SafetensorsException extends IOException {

  public SafetensorsException(String message) {
    super(message);
  }

  public SafetensorsException(String message, Throwable cause) {
    super(message, cause);
  }
}
