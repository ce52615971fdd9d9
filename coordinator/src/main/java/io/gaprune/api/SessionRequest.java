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
import java.io.StringReader;
import io.gaprune.session.SessionRules;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The body of {@code POST /api/v1/sessions}: a JSON object of {@link SessionConfig} fields in snake_case.
 * Missing fields take the node's {@code gaprune.model} and {@code gaprune.session.*} defaults (so a start
 * needs only the two calibration files); an unknown field, a wrong type, a value out of range (the
 * {@link SessionRules} every way of starting a session shares), another model than the coordinator's, or a
 * calibration file outside the data roots is a 400, before the coordinator is asked.
 */
final class SessionRequest {
  /** Filled in by the coordinator from what it runs; a client value would be overwritten silently. */
  private static final Set<String> COORDINATOR_FIELDS = Set.of("model_hash", "code_version");
  /** Java's int and long hold the proto's uint32 and uint64: beyond these a value would wrap to a negative one. */
  private static final BigInteger INT_MAX = BigInteger.valueOf(Integer.MAX_VALUE);
  private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

  private SessionRequest() {}

  /**
   * What a node accepts in a session request: its defaults, the model it runs, the folders calibration files
   * may come from ({@code gaprune.data-roots}; empty: the work dir and the distribution's data/).
   */
  record Rules(SessionConfig defaults, String model, List<Path> dataRoots) {
    static Rules from(Config config) {
      List<Path> roots = new ArrayList<>();
      for (String r : config.getStringList("gaprune.data-roots")) {
        roots.add(Path.of(r));
      }
      if (roots.isEmpty()) {
        roots.add(Path.of(config.getString("gaprune.work-dir")));
        String home = config.getString("gaprune.home");
        if (!home.isBlank()) {
          roots.add(Path.of(home).resolve("data"));
        }
      }
      return new Rules(SessionRequest.defaults(config), config.getString("gaprune.model"),
          roots.stream().map(p -> p.toAbsolutePath().normalize()).toList());
    }

    /** The session a body asks for, its defaults filled in, checked; an {@link ApiException} (400) otherwise. */
    SessionConfig parse(String json) {
      SessionConfig cfg = SessionRequest.parse(json, defaults);
      if (!sameModel(cfg.getModel(), model)) {
        throw ApiException.badRequest("model \"" + RequestGuard.printable(cfg.getModel()) + "\" is not the model this"
            + " coordinator runs (\"" + model + "\", gaprune.model): leave \"model\" out or give that one");
      }
      for (String field : List.of("general_path", "domain_path")) {
        requireUnderRoots(field, (String) cfg.getField(SessionConfig.getDescriptor().findFieldByName(field)));
      }
      return cfg;
    }

    /**
     * A calibration file must be a readable regular file under a data root, also once links are followed. Every
     * way of missing that gets the same message, which names the rule and the roots, never what the path is or
     * whether it exists: the API must not tell a caller about files elsewhere on the host. A path outside the
     * roots is refused before any file system call.
     */
    void requireUnderRoots(String field, String value) {
      ApiException refused = ApiException.badRequest(field + " must be the absolute path of a readable regular file"
          + " under the data roots " + dataRoots + " (gaprune.data-roots)");
      Path p;
      try {
        p = Path.of(value);
      } catch (InvalidPathException e) {
        throw refused;
      }
      if (!p.isAbsolute() || value.indexOf('\0') >= 0) {
        throw refused;
      }
      Path normal = p.normalize();
      if (dataRoots.stream().noneMatch(normal::startsWith)) {
        throw refused;
      }
      try {
        Path real = normal.toRealPath();
        boolean inside = false;
        for (Path root : dataRoots) {
          Path r = Files.exists(root) ? root.toRealPath() : root;
          inside |= real.startsWith(r);
        }
        if (!inside || !Files.isRegularFile(real) || !Files.isReadable(real)) {
          throw refused;
        }
      } catch (IOException | SecurityException e) {
        throw refused;
      }
    }

    private static boolean sameModel(String asked, String runs) {
      if (asked.equalsIgnoreCase(runs)) {
        return true;
      }
      try {
        return Path.of(asked).isAbsolute() && Path.of(asked).normalize().equals(Path.of(runs).toAbsolutePath().normalize());
      } catch (InvalidPathException e) {
        return false;
      }
    }
  }

  static SessionConfig parse(String json, Config config) {
    return parse(json, defaults(config));
  }

  /** The body over {@code base}: types and ranges checked ({@link SessionRules}), paths and model not. */
  static SessionConfig parse(String json, SessionConfig base) {
    JsonObject o = object(json);
    SessionConfig.Builder b = base.toBuilder();
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
      Object v = value(field, e.getValue());
      try {
        // A value the client wrote is checked as written (max_seq_len 0 included: only a left-out one is "unset").
        SessionRules.check(name, v, SessionRules.API);
      } catch (IllegalArgumentException x) {
        throw ApiException.badRequest(x.getMessage());
      }
      b.setField(field, v);
    }
    structure(b, o.has("sparsity"));
    SessionConfig cfg = b.build();
    if (cfg.getGeneralPath().isEmpty() || cfg.getDomainPath().isEmpty()) {
      throw ApiException.badRequest("a session needs \"general_path\" and \"domain_path\" (triplet files readable by"
          + " the coordinator and every worker)");
    }
    try {
      SessionRules.check(cfg, SessionRules.API);
    } catch (IllegalArgumentException x) {
      throw ApiException.badRequest(x.getMessage());
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
          throw ApiException.badRequest("session field \"" + name + "\" must be a string, got " + RequestGuard.printable(String.valueOf(v)));
        }
        return v.getAsString();
      }
      case DOUBLE -> {
        if (!number || !Double.isFinite(v.getAsDouble())) {
          throw ApiException.badRequest("session field \"" + name + "\" must be a finite number, got " + RequestGuard.printable(String.valueOf(v)));
        }
        return v.getAsDouble();
      }
      case INT, LONG -> {
        BigInteger max = field.getJavaType() == FieldDescriptor.JavaType.INT ? INT_MAX : LONG_MAX;
        BigInteger n = number ? integral(v.getAsJsonPrimitive().getAsString(), max) : null;
        if (n == null) {
          throw ApiException.badRequest("session field \"" + name + "\" must be a whole number from 0 to " + max
              + ", got " + RequestGuard.printable(String.valueOf(v)));
        }
        return field.getJavaType() == FieldDescriptor.JavaType.INT ? (Object) n.intValue() : (Object) n.longValue();
      }
      default -> throw ApiException.badRequest("session field \"" + name + "\" cannot be set over HTTP");
    }
  }

  /**
   * The whole number {@code text} writes, when it lies in [0, max]; null otherwise. Compared before it is made
   * exact, so {@code 1e999999999} costs nothing (making it a BigInteger would take a billion digits).
   */
  private static BigInteger integral(String text, BigInteger max) {
    try {
      BigDecimal d = new BigDecimal(text);
      if (d.signum() < 0 || d.compareTo(new BigDecimal(max)) > 0) {
        return null;
      }
      return d.toBigIntegerExact();
    } catch (ArithmeticException | NumberFormatException e) {
      return null;
    }
  }

  private static String fieldNames() {
    return SessionConfig.getDescriptor().getFields().stream().map(FieldDescriptor::getName)
        .filter(n -> !COORDINATOR_FIELDS.contains(n)).toList().toString();
  }
}
