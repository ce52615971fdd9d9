package io.gaprune.data;

import java.util.Objects;

/** One calibration example: a query, a passage that answers it and one that does not (a hard negative). */
public record Triplet(String query, String positive, String negative) {
  public Triplet {
    Objects.requireNonNull(query, "query");
    Objects.requireNonNull(positive, "positive");
    Objects.requireNonNull(negative, "negative");
  }
}
