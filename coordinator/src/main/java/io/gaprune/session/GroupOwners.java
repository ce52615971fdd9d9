package io.gaprune.session;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.LayerwiseOutcome;
import io.gaprune.protocol.MaskChunk;
import io.gaprune.protocol.MaskOutcome;
import io.gaprune.protocol.PlanStep;
import io.gaprune.protocol.PlanStepReply;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.WeightChunk;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.CRC32C;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.SourceRef;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * The planner's way to the owners of a session's merger groups on other nodes: a plan step is an ask to the
 * group's entity through Cluster Sharding, awaited on the planner's blocking thread, and an owner's masks are
 * pulled from the stream it offers, checked (order, bytes, CRC32C) and handed to the plan's masks file.
 */
public final class GroupOwners {

  /** Where a group's masks go, tensor by tensor in the fixed order, in pieces. */
  @FunctionalInterface
  public interface MaskWriter {
    void write(TensorMeta tensor, byte[] values) throws IOException;
  }

  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  private final String sessionId;
  private final Duration timeout;

  public GroupOwners(ActorSystem<?> system, String sessionId, Duration timeout) {
    this.system = system;
    this.sharding = ClusterSharding.get(system);
    this.sessionId = sessionId;
    this.timeout = timeout;
  }

  /** Sends a step to the group's owner and waits for its answer, at most the step timeout. */
  public PlanStepReply ask(TensorGroup group, PlanStep step) throws IOException {
    var resolver = ActorRefResolver.get(system);
    var entity = sharding.entityRefFor(MergerEntity.KEY, TensorGroups.entityId(sessionId, group));
    var answer = entity.<PlanStepReply>ask((ActorRef<PlanStepReply> replyTo) -> (GeneratedMessage) step.toBuilder()
        .setReplyTo(resolver.toSerializationFormat(replyTo)).build(), timeout);
    try {
      return answer.toCompletableFuture().get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the owner of " + describe(group));
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("the owner of " + describe(group) + " did not answer the plan's "
          + step.getStepCase().name().toLowerCase() + " step within " + timeout
          + " (gaprune.coordinator.plan-step-timeout): " + (e.getCause() != null ? e.getCause() : e));
    }
  }

  /** Pulls the masks an owner offers into {@code writer}, checking that they are the group's, whole and intact. */
  public void pullMasks(TensorGroup group, List<TensorMeta> tensors, MaskOutcome masks, MaskWriter writer)
      throws IOException {
    var check = new StreamCheck(group, tensors, "masks");
    pull(group, "masks", masks.getMasksRef(), (MaskChunk c) -> {
      var tensor = check.next(c.getTensor(), c.getOffset(), c.getWeights(), GroupPlanning.CHUNK_BYTES * 8L,
          c.getWeights() + " weights");
      byte[] values;
      try {
        values = MaskBits.unpack(c.getValues().toByteArray(), (int) c.getWeights());
      } catch (IllegalArgumentException e) {
        throw new IOException("masks of " + describe(group) + ": chunk of " + c.getTensor() + " at " + c.getOffset()
            + ": " + e.getMessage());
      }
      check.received(values, values.length);
      writer.write(tensor, values);
    });
    // one byte per weight: the owner's count and checksum are over the unpacked masks
    check.finish(tensors.stream().mapToLong(TensorMeta::size).sum(), masks.getMaskBytes(), masks.getMasksCrc32C());
  }

  /** Where a group's new weights go, tensor by tensor in the fixed order, in pieces. */
  @FunctionalInterface
  public interface WeightWriter {
    void write(String tensor, float[] values, int offset, int count) throws IOException;
  }

  /**
   * Pulls the new weights an owner offers after its layer-wise step into {@code writer}, checking that they are the
   * group's, in order, whole and intact.
   */
  public void pullWeights(TensorGroup group, List<TensorMeta> tensors, LayerwiseOutcome outcome, WeightWriter writer)
      throws IOException {
    var check = new StreamCheck(group, tensors, "weights");
    pull(group, "weights", outcome.getWeightsRef(), (WeightChunk c) -> {
      int size = c.getValues().size();
      // a partial float is a count of -1: refused as an empty chunk
      long n = size % Float.BYTES == 0 ? size / Float.BYTES : -1;
      var tensor = check.next(c.getTensor(), c.getOffset(), n, GroupPlanning.CHUNK_BYTES / Float.BYTES,
          size + " bytes");
      var raw = c.getValues().toByteArray();
      check.received(raw, n);
      var values = new float[(int) n];
      java.nio.ByteBuffer.wrap(raw).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
      writer.write(tensor.name(), values, 0, values.length);
    });
    check.finish(tensors.stream().mapToLong(TensorMeta::size).sum() * Float.BYTES, outcome.getWeightBytes(),
        outcome.getWeightsCrc32C());
  }

  /** Runs the stream an owner offers ({@code ref}, a resolvable SourceRef) into {@code accept}, to its end. */
  private <T> void pull(TensorGroup group, String what, String ref, org.apache.pekko.japi.function.Procedure<T> accept)
      throws IOException {
    SourceRef<T> source = StreamRefResolver.get(system).resolveSourceRef(ref);
    var done = source.getSource().idleTimeout(timeout)
        .runWith(Sink.<T>foreach(accept)
            .withAttributes(ActorAttributes.dispatcher("pekko.stream.materializer.blocking-io-dispatcher")), system);
    try {
      done.toCompletableFuture().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while pulling the " + what + " of " + describe(group));
    } catch (ExecutionException e) {
      var cause = e.getCause();
      throw cause instanceof IOException io ? io
          : new IOException("the " + what + " stream of " + describe(group) + " failed: " + cause, cause);
    }
  }

  private String describe(TensorGroup g) {
    return "merger group " + g.getIndex() + " of partition " + g.getPartition() + " (session " + sessionId + ")";
  }

  /**
   * One owner's stream, checked as it arrives: chunks in the group's tensor order, each tensor's values contiguous
   * from 0, no chunk over the limit, and at the end the bytes and CRC32C the owner promised.
   */
  private final class StreamCheck {
    private final TensorGroup group;
    private final List<TensorMeta> tensors;
    private final String what;
    private final CRC32C crc = new CRC32C();
    private int tensor;
    private long offset;
    private long bytes;

    StreamCheck(TensorGroup group, List<TensorMeta> tensors, String what) {
      this.group = group;
      this.tensors = tensors;
      this.what = what;
    }

    /** The tensor a chunk of {@code count} values at {@code chunkOffset} of {@code name} must belong to, or why not. */
    TensorMeta next(String name, long chunkOffset, long count, long maxCount, String size) throws IOException {
      while (tensor < tensors.size() && offset == tensors.get(tensor).size()) {
        tensor++;
        offset = 0;
      }
      if (tensor == tensors.size() || !name.equals(tensors.get(tensor).name()) || chunkOffset != offset
          || count <= 0 || count > maxCount || offset + count > tensors.get(tensor).size()) {
        throw new IOException(what + " of " + describe(group) + ": chunk of " + name + " at " + chunkOffset
            + " (" + size + ") where " + (tensor == tensors.size() ? "the group has ended"
            : tensors.get(tensor).name() + " at " + offset + " was expected"));
      }
      return tensors.get(tensor);
    }

    /** The chunk {@link #next} accepted, as the bytes the owner's checksum covers, and its count of values. */
    void received(byte[] checked, long count) {
      crc.update(checked, 0, checked.length);
      bytes += checked.length;
      offset += count;
    }

    void finish(long expected, long sent, int sentCrc) throws IOException {
      if (bytes != expected || bytes != sent || (int) crc.getValue() != sentCrc) {
        throw new IOException(what + " of " + describe(group) + ": received " + bytes + " bytes (CRC32C "
            + Integer.toHexString((int) crc.getValue()) + "), the group's " + what + " are " + expected + " bytes and"
            + " its owner sent " + sent + " (CRC32C " + Integer.toHexString(sentCrc) + ")");
      }
    }
  }
}
