package io.gaprune.data;

/** A triplet file that cannot be read as triplets; the message names the file and the element or line. */
public final class TripletFormatException extends IllegalArgumentException {
  public TripletFormatException(String message) {
    super(message);
  }

  public TripletFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
