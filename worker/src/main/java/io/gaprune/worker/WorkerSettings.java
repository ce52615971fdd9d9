package io.gaprune.worker;

import com.typesafe.config.Config;
import io.gaprune.protocol.Versions;
import io.gaprune.transfer.ShardWire;
import java.time.Duration;
import java.util.List;

/**
 * A worker's settings, read once from {@code gaprune.*}.
 *
 * @param chunkBytes value bytes per shard chunk on the configured transport
 * @param shardPort whether shards travel over the worker's shard port ({@code gaprune.stream.transport = tcp})
 *     rather than as StreamRefs through Artery
 * @param computeAhead whether the worker computes its next unit while the previous one's shards are pulled
 *     ({@code gaprune.worker.compute-ahead})
 */
public record WorkerSettings(
    String device,
    String codeVersion,
    Duration progressInterval,
    Duration retryInterval,
    Duration ackTimeout,
    int chunkBytes,
    boolean shardPort,
    ComputeAhead computeAhead,
    List<String> seedNodes) {

  /**
   * Whether a worker leases its next unit while the coordinator has not yet acknowledged the previous one (its
   * shards being pulled and staged): the pull and the next unit's compute overlap, at the cost of a second
   * unit's sums in the worker's heap. {@code AUTO}: only when the heap has room for them.
   */
  public enum ComputeAhead {
    AUTO, ON, OFF;

    static ComputeAhead parse(String value) {
      return switch (value) {
        case "auto" -> AUTO;
        case "on" -> ON;
        case "off" -> OFF;
        default -> throw new IllegalArgumentException(
            "gaprune.worker.compute-ahead = \"" + value + "\": use \"auto\", \"on\" or \"off\"");
      };
    }
  }

  public static WorkerSettings from(Config c, String device) {
    String transport = c.getString("gaprune.stream.transport");
    if (!transport.equals("tcp") && !transport.equals("stream-ref")) {
      throw new IllegalArgumentException("gaprune.stream.transport = \"" + transport + "\": use \"tcp\" or \"stream-ref\"");
    }
    boolean tcp = transport.equals("tcp");
    int chunk = (int) c.getBytes("gaprune.stream.chunk-bytes").longValue();
    long frame = c.getBytes("gaprune.cluster.maximum-frame-size");
    if (chunk <= 0 || chunk > frame / 2) {
      throw new IllegalArgumentException("gaprune.stream.chunk-bytes = " + chunk
          + " must be positive and at most half of gaprune.cluster.maximum-frame-size (" + frame + ")");
    }
    long tcpChunk = c.getBytes("gaprune.stream.tcp-chunk-bytes");
    if (tcpChunk < ShardCodec.VALUE_BYTES || tcpChunk > ShardWire.MAX_CHUNK_BYTES) {
      throw new IllegalArgumentException("gaprune.stream.tcp-chunk-bytes = " + tcpChunk + " must be between "
          + ShardCodec.VALUE_BYTES + " and " + ShardWire.MAX_CHUNK_BYTES);
    }
    return new WorkerSettings(
        device,
        Versions.code(c.getString("gaprune.code-version")),
        c.getDuration("gaprune.worker.progress-interval"),
        c.getDuration("gaprune.worker.retry-interval"),
        c.getDuration("gaprune.worker.ack-timeout"),
        tcp ? (int) tcpChunk : chunk,
        tcp,
        ComputeAhead.parse(c.getString("gaprune.worker.compute-ahead")),
        c.getStringList("gaprune.cluster.seed-nodes"));
  }
}
