package io.gaprune.session;

import com.google.protobuf.UnsafeByteOperations;
import io.gaprune.planner.PlanLayout;
import io.gaprune.planner.PlanShare;
import io.gaprune.planner.Planner;
import io.gaprune.planner.PlannerConfig;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.MaskChunk;
import io.gaprune.protocol.PlanContext;
import io.gaprune.protocol.PlanStep;
import io.gaprune.protocol.PlanStepReply;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.worker.ModelRuntime;
import io.gaprune.worker.ShardCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.zip.CRC32C;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamRefs;

/**
 * A merger group's side of planning by histograms: it scores the group's tensors from the group's own
 * accumulators and the node's model weights, exactly as a single planner would (the same configuration and
 * layout, built from the step's {@link PlanContext}), and answers the planner's steps ({@link PlanWire}). Its masks
 * go to a file in the group's directory and then, as a stream of {@link MaskChunk}s (eight weights per byte,
 * {@link MaskBits}), to the planner, which writes
 * masks.safetensors in the fixed order. One per plan; the steps of a plan come one at a time.
 */
final class GroupPlanning {

  /** Bytes of mask values per chunk: far below Artery's frame, like the shard chunks. */
  static final int CHUNK_BYTES = 64 << 10;

  private final String planId;
  private final List<TensorMeta> tensors;
  private final PlanShare share;
  private final Path masksFile;
  private final ActorSystem<?> system;
  private FileChannel masksOut;
  private CRC32C crc;
  private long maskBytes;

  GroupPlanning(PlanStep first, Path workDir, ModelRuntime model, ActorSystem<?> system) {
    PlanContext c = first.getContext();
    if (!first.hasContext() || !c.hasTarget() || !c.hasSession()) {
      throw new IllegalArgumentException("plan " + first.getPlanId() + ": a step without its context");
    }
    this.planId = first.getPlanId();
    this.system = system;
    TensorGroup group = c.getTarget().getGroup();
    String sessionId = c.getTarget().getSessionId();
    PlannerConfig config = AccumulatorPlanner.config(c.getSession());
    PlanLayout layout = PlanLayout.of(config, AccumulatorPlanner.metas(c.getPartitionsList()));
    this.tensors = AccumulatorPlanner.metas(List.of(TensorGroups.asPartition(group)));
    Path dir = TensorGroups.dir(workDir, sessionId, group);
    var store = new SessionAccumulators(TensorGroups.sessionDir(workDir, sessionId), sessionId, List.of(group),
        ShardCodec.statistics(c.getTarget().getStatistics(), c.getTarget().getInputStatistics()), g -> dir);
    var source = new AccumulatorPlanner.AccumulatorTensorSource(List.of(TensorGroups.asPartition(group)), store,
        model, config.scoring().method() == ScoringMethod.DAI_REFERENCE);
    // one plan at a time per group: each plan's mask step truncates it
    this.masksFile = dir.resolve("plan-masks.u8");
    this.share = new Planner(config).share(layout, source, tensors, (t, mask) -> writeMask(mask));
  }

  String planId() {
    return planId;
  }

  /** Answers one step; never throws (a failure is the reply's error). */
  PlanStepReply answer(PlanStep step) {
    if (step.getStepCase() != PlanStep.StepCase.MASKS) {
      return PlanWire.answer(step, share);
    }
    try {
      Files.createDirectories(masksFile.getParent());
      masksOut = FileChannel.open(masksFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
      crc = new CRC32C();
      maskBytes = 0;
      PlanStepReply reply;
      try (FileChannel out = masksOut) {
        reply = PlanWire.answer(step, share);
        out.force(true);
      } finally {
        masksOut = null;
      }
      if (!reply.getError().isEmpty()) {
        return reply;
      }
      var ref = Source.fromIterator(() -> new ChunkIterator(masksFile, tensors))
          .withAttributes(ActorAttributes.dispatcher("pekko.stream.materializer.blocking-io-dispatcher"))
          .runWith(StreamRefs.sourceRef(), system);
      var masks = reply.getMasks().toBuilder()
          .setMasksRef(StreamRefResolver.get(system).toSerializationFormat(ref))
          .setMaskBytes(maskBytes).setMasksCrc32C((int) crc.getValue());
      return reply.toBuilder().setMasks(masks).build();
    } catch (IOException | RuntimeException e) {
      return PlanStepReply.newBuilder().setPlanId(step.getPlanId()).setGroup(step.getGroup())
          .setError("cannot write the group's masks to " + masksFile + ": " + e.getMessage()).build();
    }
  }

  private void writeMask(byte[] mask) throws IOException {
    var buf = ByteBuffer.wrap(mask);
    while (buf.hasRemaining()) {
      masksOut.write(buf);
    }
    crc.update(mask, 0, mask.length);
    maskBytes += mask.length;
  }

  /**
   * The masks file read back tensor by tensor, in chunks that never cross a tensor; deleted once read to the end
   * (a plan that fails before leaves it for the next plan of the group, which truncates it).
   */
  private static final class ChunkIterator implements Iterator<MaskChunk> {
    private final Path file;
    private final FileChannel in;
    private final List<TensorMeta> tensors;
    private int tensor;
    private long offset;

    ChunkIterator(Path file, List<TensorMeta> tensors) throws IOException {
      this.file = file;
      this.in = FileChannel.open(file, StandardOpenOption.READ);
      this.tensors = tensors;
      skipEmpty();
    }

    private void skipEmpty() throws IOException {
      while (tensor < tensors.size() && offset == tensors.get(tensor).size()) {
        tensor++;
        offset = 0;
      }
      if (tensor == tensors.size()) {
        in.close();
        Files.deleteIfExists(file);
      }
    }

    @Override
    public boolean hasNext() {
      return tensor < tensors.size();
    }

    @Override
    public MaskChunk next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      var t = tensors.get(tensor);
      // CHUNK_BYTES on the wire: eight weights per byte
      int n = (int) Math.min(8L * CHUNK_BYTES, t.size() - offset);
      var buf = ByteBuffer.allocate(n);
      try {
        while (buf.hasRemaining()) {
          if (in.read(buf) < 0) {
            throw new IOException("masks file ends inside tensor " + t.name());
          }
        }
        var chunk = MaskChunk.newBuilder().setTensor(t.name()).setOffset(offset).setWeights(n)
            .setValues(UnsafeByteOperations.unsafeWrap(MaskBits.pack(buf.array(), 0, n))).build();
        offset += n;
        skipEmpty();
        return chunk;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
