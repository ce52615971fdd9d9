package io.gaprune.worker;

import com.typesafe.config.Config;
import io.gaprune.protocol.Versions;
import java.time.Duration;
import java.util.List;

/** A worker's settings, read once from {@code gaprune.*}. */
public record WorkerSettings(
    String device,
    String codeVersion,
    Duration progressInterval,
    Duration retryInterval,
    Duration ackTimeout,
    int chunkBytes,
    List<String> seedNodes) {

  public static WorkerSettings from(Config c, String device) {
    int chunk = (int) c.getBytes("gaprune.stream.chunk-bytes").longValue();
    long frame = c.getBytes("gaprune.cluster.maximum-frame-size");
    if (chunk <= 0 || chunk > frame / 2) {
      throw new IllegalArgumentException("gaprune.stream.chunk-bytes = " + chunk
          + " must be positive and at most half of gaprune.cluster.maximum-frame-size (" + frame + ")");
    }
    return new WorkerSettings(
        device,
        Versions.code(c.getString("gaprune.code-version")),
        c.getDuration("gaprune.worker.progress-interval"),
        c.getDuration("gaprune.worker.retry-interval"),
        c.getDuration("gaprune.worker.ack-timeout"),
        chunk,
        c.getStringList("gaprune.cluster.seed-nodes"));
  }
}
