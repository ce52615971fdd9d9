package io.gaprune.api;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.typesafe.config.Config;
import io.gaprune.planner.Structure;
import io.gaprune.protocol.SessionConfig;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Set;

/**
 * The body of {@code POST /api/v1/sessions}: a JSON object of {@link SessionConfig} fields in snake_case.
 * Missing fields take the node's {@code gaprune.model} and {@code gaprune.session.*} defaults (so a start
 * needs only the two calibration files); an unknown field, a wrong type or a negative count is a 400.
 */
final class SessionRequest {
  /** Filled in by the coordinator from what it runs; a client value would be overwritten silently. */
  private static final Set<String> COORDINATOR_FIELDS = Set.of("model_hash", "code_version");
  private static final BigInteger UINT32_MAX = BigInteger.valueOf(0xFFFF_FFFFL);
  private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  private SessionRequest() {}

  static SessionConfig parse(String json, Config config) {
    JsonObject o = object(json);
    SessionConfig.Builder b = defaults(config).toBuilder();
    var descriptor = SessionConfig.getDescriptor();
    for (var e : o.entrySet()) {
      String name = e.getKey();
      FieldDescriptor field = descriptor.findFieldByName(name);
      if (field == null) {
        throw ApiException.badRequest("unknown session field \"" + name + "\"; fields: " + fieldNames());
      }
      if (COORDINATOR_FIELDS.contains(name)) {
        throw ApiException.badRequest("session field \"" + name + "\" is set by the coordinator, not the client");
      }
      b.setField(field, value(field, e.getValue()));
    }
    structure(b, o.has("sparsity"));
    SessionConfig cfg = b.build();
    if (cfg.getGeneralPath().isEmpty() || cfg.getDomainPath().isEmpty()) {
      throw ApiException.badRequest("a session needs \"general_path\" and \"domain_path\" (triplet files readable by"
          + " the coordinator and every worker)");
    }
    return cfg;
  }

  /**
   * An N:M structure fixes the sparsity at 1 − N/M: the session records that one (its plan and status then show
   * what is pruned), and a sparsity the client gave must agree. Written back in its canonical form.
   */
  private static void structure(SessionConfig.Builder b, boolean sparsityGiven) {
    if (b.getStructure().isEmpty()) {
      return;
    }
    try {
      var structure = Structure.parse(b.getStructure());
      b.setStructure(structure.toString());
      b.setSparsity(structure.sparsity(sparsityGiven ? b.getSparsity() : null, b.getSparsity()));
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("session field \"structure\": " + e.getMessage());
    }
  }

  /** The node's session defaults: what `gaprune session start` gets for every option it leaves out. */
  static SessionConfig defaults(Config config) {
    Config d = config.getConfig("gaprune.session");
    return SessionConfig.newBuilder()
        .setModel(config.getString("gaprune.model"))
        .setSeed(d.getLong("seed"))
        .setBatchSize(d.getInt("batch-size"))
        .setBatchesPerUnit(d.getInt("batches-per-unit"))
        .setGeneralLimit(d.getInt("general-limit"))
        .setDomainLimit(d.getInt("domain-limit"))
        .setPartitionBudgetBytes(d.getBytes("partition-budget-bytes"))
        .setCandidates(d.getString("candidates"))
        .setSparsity(d.getDouble("sparsity"))
        .setMaxSeqLen(d.getInt("max-seq-len"))
        .setAlpha(d.getDouble("alpha"))
        .setBeta(d.getDouble("beta"))
        .setGamma(d.getDouble("gamma"))
        .setBudget(d.getString("budget"))
        .build();
  }

  /** Strict JSON (no comments, no unquoted names, nothing after the object), which Gson's parser alone is not. */
  private static JsonObject object(String json) {
    if (json.isBlank()) {
      throw ApiException.badRequest("the body must be a JSON object of session fields; it is empty");
    }
    try (JsonReader reader = new JsonReader(new StringReader(json))) {
      reader.setStrictness(Strictness.STRICT);
      JsonElement e = new Gson().getAdapter(JsonElement.class).read(reader);
      if (reader.peek() != JsonToken.END_DOCUMENT) {
        throw ApiException.badRequest("the body has more after its JSON object");
      }
      if (!e.isJsonObject()) {
        throw ApiException.badRequest("the body must be a JSON object of session fields, not " + json.strip().charAt(0) + "...");
      }
      return e.getAsJsonObject();
    } catch (IOException | RuntimeException e) {
      if (e instanceof ApiException api) {
        throw api;
      }
      // Gson's messages end with advice for Gson users (be lenient, see a URL); an API client needs the place.
      String why = String.valueOf(e.getMessage())
          .replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON")
          .replaceAll("\\s*See https://\\S+", "");
      throw ApiException.badRequest("the body is not valid JSON: " + why);
    }
  }

  private static Object value(FieldDescriptor field, JsonElement v) {
    String name = field.getName();
    boolean number = v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber();
    switch (field.getJavaType()) {
      case STRING -> {
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
          throw ApiException.badRequest("session field \"" + name + "\" must be a string, got " + v);
        }
        return v.getAsString();
      }
      case DOUBLE -> {
        if (!number || !Double.isFinite(v.getAsDouble())) {
          throw ApiException.badRequest("session field \"" + name + "\" must be a finite number, got " + v);
        }
        return v.getAsDouble();
      }
      case INT, LONG -> {
        BigInteger n = number ? integral(v.getAsBigDecimal()) : null;
        BigInteger max = field.getJavaType() == FieldDescriptor.JavaType.INT ? UINT32_MAX : UINT64_MAX;
        if (n == null || n.signum() < 0 || n.compareTo(max) > 0) {
          throw ApiException.badRequest("session field \"" + name + "\" must be a whole number from 0 to " + max
              + ", got " + v);
        }
        return field.getJavaType() == FieldDescriptor.JavaType.INT ? (Object) n.intValue() : (Object) n.longValue();
      }
      default -> throw ApiException.badRequest("session field \"" + name + "\" cannot be set over HTTP");
    }
  }

  private static BigInteger integral(BigDecimal d) {
    try {
      return d.toBigIntegerExact();
    } catch (ArithmeticException e) {
      return null;
    }
  }

  private static String fieldNames() {
    return SessionConfig.getDescriptor().getFields().stream().map(FieldDescriptor::getName)
        .filter(n -> !COORDINATOR_FIELDS.contains(n)).toList().toString();
  }
}
