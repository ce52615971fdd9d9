package io.gaprune.session;

import com.google.protobuf.UnsafeByteOperations;
import io.gaprune.planner.PlanLayout;
import io.gaprune.planner.PlanShare;
import io.gaprune.planner.Planner;
import io.gaprune.planner.PlannerConfig;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.LayerwiseOutcome;
import io.gaprune.protocol.MaskChunk;
import io.gaprune.protocol.PlanContext;
import io.gaprune.protocol.PlanStep;
import io.gaprune.protocol.PlanStepReply;
import io.gaprune.protocol.TensorError;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.TensorPruned;
import io.gaprune.protocol.WeightChunk;
import io.gaprune.worker.ModelRuntime;
import io.gaprune.worker.ShardCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
  private final PlanShare share; // null when the layer-wise step chooses the masks (SparseGPT)
  private final Path masksFile;
  private final ActorSystem<?> system;
  private final io.gaprune.protocol.SessionConfig session;
  private final io.gaprune.protocol.LayerPartition partition;
  private final SessionAccumulators store;
  private final ModelRuntime model;
  private final Path dir;
  private final boolean layerwise;
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
    this.session = c.getSession();
    this.partition = TensorGroups.asPartition(group);
    this.store = store;
    this.model = model;
    this.dir = dir;
    this.layerwise = GroupLayerwise.updatesWeights(session);
    // one plan at a time per group: each plan's mask step truncates it
    this.masksFile = dir.resolve("plan-masks.u8");
    if (GroupLayerwise.choosesMasks(session)) {
      this.share = null;
    } else {
      var source = new AccumulatorPlanner.AccumulatorTensorSource(List.of(partition), store, model,
          config.scoring().method() == ScoringMethod.DAI_REFERENCE);
      this.share = new Planner(config).share(layout, source, tensors, (t, mask) -> writeMask(mask));
    }
  }

  String planId() {
    return planId;
  }

  /** Answers one step; never throws (a failure is the reply's error). */
  PlanStepReply answer(PlanStep step) {
    if (step.getStepCase() == PlanStep.StepCase.LAYERWISE) {
      return layerwise(step);
    }
    if (share == null) {
      return PlanStepReply.newBuilder().setPlanId(step.getPlanId()).setGroup(step.getGroup())
          .setError("scoring \"" + session.getScoring() + "\" chooses its masks in the layer-wise step: a "
              + step.getStepCase().name().toLowerCase() + " step has nothing to answer").build();
    }
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
      if (!reply.getError().isEmpty() || layerwise) {
        return reply; // a layer-wise plan's masks stay here for its layer-wise step
      }
      var ref = Source.fromIterator(() -> maskChunks(masksFile, tensors))
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

  /**
   * The layer-wise step on the group's tensors ({@link GroupLayerwise}), from this node's statistics and the
   * masks of the mask step (kept in {@code plan-masks.u8}; none for SparseGPT): the new weights go to
   * {@code plan-weights.f32} and the final masks to {@code plan-masks.u8}, both offered as streams.
   */
  private PlanStepReply layerwise(PlanStep step) {
    var reply = PlanStepReply.newBuilder().setPlanId(step.getPlanId()).setGroup(step.getGroup());
    Path weightsFile = dir.resolve("plan-weights.f32");
    try {
      Map<String, byte[]> planMasks = null;
      if (share != null) {
        planMasks = new LinkedHashMap<>();
        try (FileChannel in = FileChannel.open(masksFile, StandardOpenOption.READ)) {
          for (var t : tensors) {
            var buf = ByteBuffer.allocate(Math.toIntExact(t.size()));
            while (buf.hasRemaining()) {
              if (in.read(buf) < 0) {
                throw new IOException("the group's masks file " + masksFile + " ends inside tensor " + t.name()
                    + ": the mask step did not complete");
              }
            }
            planMasks.put(t.name(), buf.array());
          }
        }
      }
      var outcome = LayerwiseOutcome.newBuilder();
      var weightsCrc = new CRC32C();
      long[] weightBytes = {0};
      try (FileChannel weightsOut = FileChannel.open(weightsFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
           FileChannel masksOut = FileChannel.open(masksFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
               StandardOpenOption.TRUNCATE_EXISTING)) {
        this.masksOut = masksOut;
        crc = new CRC32C();
        maskBytes = 0;
        var errors = GroupLayerwise.run(session, List.of(partition), tensors, store.merged(), model, planMasks,
            dir.resolve("plan-sparsegpt.safetensors"), new GroupLayerwise.Sink() {
              @Override
              public void weights(TensorMeta t, float[] values) throws IOException {
                var buf = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                buf.asFloatBuffer().put(values);
                weightsCrc.update(buf.array(), 0, buf.capacity());
                weightBytes[0] += buf.capacity();
                while (buf.hasRemaining()) {
                  weightsOut.write(buf);
                }
              }

              @Override
              public void mask(TensorMeta t, byte[] mask) throws IOException {
                writeMask(mask);
                outcome.addTensors(TensorPruned.newBuilder().setName(t.name())
                    .setPruned(io.gaprune.planner.PlanResult.pruned(mask)));
              }
            });
        weightsOut.force(true);
        masksOut.force(true);
        errors.forEach(e -> outcome.addErrors(TensorError.newBuilder().setName(e.tensor()).setBefore(e.before())
            .setAfter(e.after())));
      } finally {
        this.masksOut = null;
      }
      var resolver = StreamRefResolver.get(system);
      var masksRef = Source.fromIterator(() -> maskChunks(masksFile, tensors))
          .withAttributes(ActorAttributes.dispatcher("pekko.stream.materializer.blocking-io-dispatcher"))
          .runWith(StreamRefs.sourceRef(), system);
      var weightsRef = Source.fromIterator(() -> weightChunks(weightsFile, tensors))
          .withAttributes(ActorAttributes.dispatcher("pekko.stream.materializer.blocking-io-dispatcher"))
          .runWith(StreamRefs.sourceRef(), system);
      outcome.setMasksRef(resolver.toSerializationFormat(masksRef)).setMaskBytes(maskBytes)
          .setMasksCrc32C((int) crc.getValue()).setWeightsRef(resolver.toSerializationFormat(weightsRef))
          .setWeightBytes(weightBytes[0]).setWeightsCrc32C((int) weightsCrc.getValue());
      return reply.setLayerwise(outcome).build();
    } catch (IOException | RuntimeException e) {
      return reply.setError("the layer-wise step (scoring \"" + session.getScoring() + "\") failed: "
          + (e.getMessage() == null ? e.toString() : e.getMessage())).build();
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

  /** Builds one chunk of a tensor from its bytes in the file. */
  @FunctionalInterface
  private interface ChunkMaker<T> {
    T make(TensorMeta tensor, long offset, int weights, byte[] bytes);
  }

  /** The group's masks, one byte per weight, as {@link MaskChunk}s (eight weights per byte on the wire). */
  private static Iterator<MaskChunk> maskChunks(Path file, List<TensorMeta> tensors) throws IOException {
    return new ChunkIterator<>(file, tensors, 1, 8L * CHUNK_BYTES, (t, offset, n, bytes) -> MaskChunk.newBuilder()
        .setTensor(t.name()).setOffset(offset).setWeights(n)
        .setValues(UnsafeByteOperations.unsafeWrap(MaskBits.pack(bytes, 0, n))).build());
  }

  /** The group's new weights, four bytes each (float32, little-endian), as {@link WeightChunk}s of CHUNK_BYTES. */
  private static Iterator<WeightChunk> weightChunks(Path file, List<TensorMeta> tensors) throws IOException {
    return new ChunkIterator<>(file, tensors, Float.BYTES, CHUNK_BYTES / Float.BYTES, (t, offset, n, bytes) ->
        WeightChunk.newBuilder().setTensor(t.name()).setOffset(offset)
            .setValues(UnsafeByteOperations.unsafeWrap(bytes)).build());
  }

  /**
   * A file of the group's tensors in order, read back tensor by tensor in chunks that never cross a tensor;
   * deleted once read to the end (a plan that fails before leaves it for the next plan of the group, which
   * truncates it).
   */
  private static final class ChunkIterator<T> implements Iterator<T> {
    private final Path file;
    private final FileChannel in;
    private final List<TensorMeta> tensors;
    private final int bytesPerWeight;
    private final long weightsPerChunk;
    private final ChunkMaker<T> maker;
    private int tensor;
    private long offset;

    ChunkIterator(Path file, List<TensorMeta> tensors, int bytesPerWeight, long weightsPerChunk,
        ChunkMaker<T> maker) throws IOException {
      this.file = file;
      this.in = FileChannel.open(file, StandardOpenOption.READ);
      this.tensors = tensors;
      this.bytesPerWeight = bytesPerWeight;
      this.weightsPerChunk = weightsPerChunk;
      this.maker = maker;
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
    public T next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      var t = tensors.get(tensor);
      int n = (int) Math.min(weightsPerChunk, t.size() - offset);
      var buf = ByteBuffer.allocate(n * bytesPerWeight);
      try {
        while (buf.hasRemaining()) {
          if (in.read(buf) < 0) {
            throw new IOException(file.getFileName() + " ends inside tensor " + t.name());
          }
        }
        var chunk = maker.make(t, offset, n, buf.array());
        offset += n;
        skipEmpty();
        return chunk;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
