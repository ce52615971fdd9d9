package io.gaprune.model.safetensors;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A sharded checkpoint: {@code model.safetensors.index.json} ({@code {"metadata": {...}, "weight_map":
 * {tensor: shard file}}}) over several safetensors files in the same directory. Every shard is opened and
 * validated up front, and every tensor of the weight map must be in the shard it names. Tensors are listed
 * shard by shard (shards sorted by file name), each shard in its data order.
 */
public final class ShardedSafetensors implements SafetensorsReader {

  private final Path indexPath;
  private final Map<String, SafetensorsFile> shardOf;
  private final List<SafetensorsFile> shards;
  private final List<TensorInfo> ordered;
  private final Map<String, String> metadata;

  private ShardedSafetensors(Path indexPath, Map<String, SafetensorsFile> shardOf, List<SafetensorsFile> shards,
      List<TensorInfo> ordered, Map<String, String> metadata) {
    this.indexPath = indexPath;
    this.shardOf = shardOf;
    this.shards = shards;
    this.ordered = ordered;
    this.metadata = metadata;
  }

  public static ShardedSafetensors open(Path indexPath) throws IOException {
    JsonObject root;
    try {
      JsonElement parsed = JsonParser.parseString(Files.readString(indexPath));
      if (!parsed.isJsonObject()) {
        throw new SafetensorsException("index " + indexPath + ": expected a JSON object");
      }
      root = parsed.getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      throw new SafetensorsException("index " + indexPath + ": bad JSON: " + e.getMessage(), e);
    } catch (IOException e) {
      if (e instanceof SafetensorsException s) {
        throw s;
      }
      throw new SafetensorsException("cannot read index " + indexPath + ": " + e, e);
    }
    var wm = root.get("weight_map");
    if (wm == null || !wm.isJsonObject()) {
      throw new SafetensorsException("index " + indexPath + ": no \"weight_map\" object");
    }
    var metadata = new LinkedHashMap<String, String>();
    var md = root.get("metadata");
    if (md != null && md.isJsonObject()) {
      for (var e : md.getAsJsonObject().entrySet()) {
        // The index's metadata holds numbers too (total_size): keep their JSON text.
        metadata.put(e.getKey(), e.getValue().isJsonPrimitive() ? e.getValue().getAsString() : e.getValue().toString());
      }
    }
    var dir = indexPath.toAbsolutePath().getParent();
    var byFile = new TreeMap<String, List<String>>();
    for (var e : wm.getAsJsonObject().entrySet()) {
      if (!e.getValue().isJsonPrimitive() || !e.getValue().getAsJsonPrimitive().isString()) {
        throw new SafetensorsException("index " + indexPath + ": weight_map entry of " + e.getKey()
            + " is not a file name");
      }
      String file = e.getValue().getAsString();
      if (file.contains("/") || file.contains("\\") || file.equals("..")) {
        throw new SafetensorsException("index " + indexPath + ": shard \"" + file + "\" of " + e.getKey()
            + " is not a plain file name in the index's directory");
      }
      byFile.computeIfAbsent(file, f -> new ArrayList<>()).add(e.getKey());
    }
    var opened = new ArrayList<SafetensorsFile>();
    try {
      var shardOf = new LinkedHashMap<String, SafetensorsFile>();
      var ordered = new ArrayList<TensorInfo>();
      for (var e : byFile.entrySet()) {
        var shardPath = dir.resolve(e.getKey());
        if (!Files.isRegularFile(shardPath)) {
          throw new SafetensorsException("index " + indexPath + ": shard file " + shardPath + " is missing (holds "
              + e.getValue().get(0) + (e.getValue().size() > 1 ? " and " + (e.getValue().size() - 1) + " more" : "")
              + ")");
        }
        var shard = SafetensorsFile.open(shardPath);
        opened.add(shard);
        var listed = new java.util.HashSet<>(e.getValue());
        for (String name : e.getValue()) {
          if (shard.find(name).isEmpty()) {
            throw new SafetensorsException("tensor " + name + " is missing from shard " + shardPath
                + " named for it in " + indexPath);
          }
        }
        for (var t : shard.tensors()) {
          // A tensor in a shard but not in the weight map is not part of the model the index describes.
          if (listed.contains(t.name())) {
            ordered.add(t);
            shardOf.put(t.name(), shard);
          }
        }
      }
      return new ShardedSafetensors(indexPath, Collections.unmodifiableMap(shardOf), List.copyOf(opened),
          List.copyOf(ordered), Collections.unmodifiableMap(metadata));
    } catch (IOException | RuntimeException ex) {
      for (var s : opened) {
        try {
          s.close();
        } catch (IOException suppressed) {
          ex.addSuppressed(suppressed);
        }
      }
      throw ex;
    }
  }

  public Path indexPath() {
    return indexPath;
  }

  public List<SafetensorsFile> shards() {
    return shards;
  }

  @Override
  public List<TensorInfo> tensors() {
    return ordered;
  }

  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  @Override
  public Optional<TensorInfo> find(String name) {
    var s = shardOf.get(name);
    return s == null ? Optional.empty() : s.find(name);
  }

  private SafetensorsFile shard(String name) throws SafetensorsException {
    var s = shardOf.get(name);
    if (s == null) {
      throw new SafetensorsException("tensor " + name + " is missing from sharded checkpoint " + indexPath
          + " (" + ordered.size() + " tensors in " + shards.size() + " shards)");
    }
    return s;
  }

  @Override
  public Path fileOf(String name) throws SafetensorsException {
    return shard(name).path();
  }

  @Override
  public TensorInfo info(String name) throws SafetensorsException {
    return shard(name).info(name);
  }

  @Override
  public void readFloats(String name, long offset, float[] dst, int dstOffset, int count) throws IOException {
    shard(name).readFloats(name, offset, dst, dstOffset, count);
  }

  @Override
  public void readDoubles(String name, long offset, double[] dst, int dstOffset, int count) throws IOException {
    shard(name).readDoubles(name, offset, dst, dstOffset, count);
  }

  @Override
  public void readLongs(String name, long offset, long[] dst, int dstOffset, int count) throws IOException {
    shard(name).readLongs(name, offset, dst, dstOffset, count);
  }

  @Override
  public byte[] readRawBytes(String name) throws IOException {
    return shard(name).readRawBytes(name);
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    for (var s : shards) {
      try {
        s.close();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
