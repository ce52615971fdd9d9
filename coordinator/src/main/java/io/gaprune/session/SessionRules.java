package io.gaprune.session;

import com.google.protobuf.Descriptors.FieldDescriptor;
import io.gaprune.model.LayerType;
import io.gaprune.planner.BudgetMode;
import io.gaprune.planner.Calibration;
import io.gaprune.planner.MethodSpec;
import io.gaprune.protocol.SessionConfig;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The rules a session's settings must meet, one place for every way a session is asked for: the operator API's
 * body ({@code POST /api/v1/sessions}), {@code gaprune session start}, {@code gaprune run}/{@code compare}
 * (the options they share with a session) and the session coordinator itself when a start arrives. Each rule
 * names the setting the way its user wrote it ({@link #API}: the body's snake_case field; the CLI passes its
 * option names), so the same value gets the same message wherever it is given, before any work starts.
 */
public final class SessionRules {
  /** Largest batch (triplets per half): far beyond any memory, small enough that no count derived from it overflows. */
  public static final int MAX_BATCH_SIZE = 1 << 16;
  public static final int MAX_BATCHES_PER_UNIT = 1 << 20;
  /** Shortest useful text (the CLI's --max-length always had it) and a bound no position table reaches. */
  public static final int MIN_SEQ_LEN = 8;
  public static final int MAX_SEQ_LEN = 1 << 17;
  public static final String SESSION_ID = "[A-Za-z0-9._-]{1,64}";

  /** The API's names: the field names of {@link SessionConfig} (snake_case). */
  public static final UnaryOperator<String> API = UnaryOperator.identity();

  /** {@code gaprune session start}'s option for each field it sets. */
  public static final UnaryOperator<String> SESSION_START = names(Map.ofEntries(
      Map.entry("general_path", "--general"), Map.entry("domain_path", "--domain"),
      Map.entry("session_id", "--session-id"), Map.entry("seed", "--seed"), Map.entry("batch_size", "--batch-size"),
      Map.entry("batches_per_unit", "--batches-per-unit"), Map.entry("general_limit", "--limit"),
      Map.entry("domain_limit", "--limit"), Map.entry("sparsity", "--sparsity"),
      Map.entry("candidates", "--candidates"), Map.entry("partition_budget_bytes", "--partition-budget-mb"),
      Map.entry("scoring", "--scoring"), Map.entry("calibration", "--calibration")));

  /** {@code gaprune run} and {@code compare}: the options they share with a session. */
  public static final UnaryOperator<String> PIPELINE = names(Map.of("sparsity", "--sparsity",
      "max_seq_len", "--max-length", "batch_size", "--batch-size", "candidates", "--layers", "budget", "--budget",
      "seed", "--seed"));

  private SessionRules() {}

  private static UnaryOperator<String> names(Map<String, String> m) {
    return f -> m.getOrDefault(f, f);
  }

  /**
   * Every field of {@code cfg}, as the coordinator checks a start: a field the session leaves at its zero value
   * where zero means "the default" (max_seq_len: the workers' own length; candidates, budget, scoring, calibration:
   * mlp, global, the default scoring, domain; session_id: one generated) is not checked.
   *
   * @throws IllegalArgumentException naming the first setting that breaks its rule
   */
  public static void check(SessionConfig cfg, UnaryOperator<String> names) {
    for (FieldDescriptor f : SessionConfig.getDescriptor().getFields()) {
      Object v = cfg.getField(f);
      if (f.getName().equals("max_seq_len") && cfg.getMaxSeqLen() == 0) {
        continue;
      }
      check(f.getName(), v, names);
    }
    if (cfg.getGeneralPath().isEmpty() || cfg.getDomainPath().isEmpty()) {
      throw new IllegalArgumentException("a session needs " + names.apply("general_path") + " and "
          + names.apply("domain_path") + " (triplet files readable by the coordinator and every worker)");
    }
  }

  /**
   * One setting as its user gave it (a body's field, a CLI option).
   *
   * @param field the {@link SessionConfig} field's name
   * @throws IllegalArgumentException naming the setting by {@code names} and what is wrong with it
   */
  public static void check(String field, Object value, UnaryOperator<String> names) {
    String name = names.apply(field);
    switch (field) {
      case "session_id" -> {
        String id = (String) value;
        if (!id.isEmpty() && !id.matches(SESSION_ID)) {
          throw new IllegalArgumentException(name + " must be 1-64 characters of A-Z a-z 0-9 . _ -");
        }
      }
      case "batch_size" -> range(name, ((Number) value).longValue(), 2, MAX_BATCH_SIZE,
          " (in-batch negatives need two triplets)");
      case "batches_per_unit" -> range(name, ((Number) value).longValue(), 1, MAX_BATCHES_PER_UNIT, "");
      case "general_limit", "domain_limit" -> range(name, ((Number) value).longValue(), 0, Integer.MAX_VALUE,
          " (0 keeps every triplet)");
      case "partition_budget_bytes" -> {
        if (((Number) value).longValue() < 0) {
          throw new IllegalArgumentException(name + " must be ≥ 0 (0: the coordinator's accumulator-memory), got "
              + value);
        }
      }
      case "max_seq_len" -> range(name, ((Number) value).longValue(), MIN_SEQ_LEN, MAX_SEQ_LEN, " tokens");
      case "sparsity" -> sparsity(name, ((Number) value).doubleValue());
      case "alpha", "beta", "gamma" -> {
        double d = ((Number) value).doubleValue();
        if (!Double.isFinite(d)) {
          throw new IllegalArgumentException(name + " must be a finite number, got " + d);
        }
      }
      case "candidates" -> {
        String s = (String) value;
        if (!s.isEmpty()) {
          wrap(name, () -> LayerType.parse(s));
        }
      }
      case "budget" -> {
        String s = (String) value;
        if (!s.isEmpty()) {
          wrap(name, () -> BudgetMode.parse(s));
        }
      }
      case "scoring" -> {
        String s = (String) value;
        if (!s.isBlank()) {
          wrap(name, () -> MethodSpec.parse(s));
        }
      }
      case "calibration" -> {
        String s = (String) value;
        if (!s.isBlank()) {
          wrap(name, () -> Calibration.parse(s));
        }
      }
      default -> {
        // model, paths, seed, statistics, ...: any value of the field's type (the paths and the model are checked
        // where they can be: the API against its data roots and its model, the coordinator when it reads them)
      }
    }
  }

  /** The share of candidate weights to prune. */
  public static void sparsity(String name, double v) {
    if (!(v >= 0 && v <= 1)) {
      throw new IllegalArgumentException(name + " must lie in [0, 1], got " + v);
    }
  }

  private static void range(String name, long v, long min, long max, String note) {
    if (v < min || v > max) {
      throw new IllegalArgumentException(name + " must be between " + min + " and " + max + note + ", got " + v);
    }
  }

  private static void wrap(String name, Runnable parse) {
    try {
      parse.run();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
    }
  }
}
