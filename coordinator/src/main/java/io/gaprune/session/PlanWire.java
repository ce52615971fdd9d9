package io.gaprune.session;

import io.gaprune.planner.KeyCollection;
import io.gaprune.planner.KeyHistogram;
import io.gaprune.planner.PassAccumulator;
import io.gaprune.planner.PlanParticipant;
import io.gaprune.planner.PlannerConfig;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.CollectionState;
import io.gaprune.protocol.HistogramState;
import io.gaprune.protocol.LayerwiseOutcome;
import io.gaprune.protocol.MaskOutcome;
import io.gaprune.protocol.PassAccumulatorState;
import io.gaprune.protocol.PlanLayerwise;
import io.gaprune.protocol.PlanMasks;
import io.gaprune.protocol.PlanPass;
import io.gaprune.protocol.PlanStep;
import io.gaprune.protocol.PlanStepReply;
import io.gaprune.protocol.PlanTies;
import io.gaprune.protocol.TensorPruned;
import io.gaprune.protocol.TieCounts;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * Planning by histograms on the wire: the planner's questions to a tensor group's owner and the owner's answers,
 * as protobuf ({@link PlanStep}, {@link PlanStepReply}), and the owner's side that answers a step from its
 * {@link PlanParticipant}. A distributed plan caps its selection memory ({@link #MAX_SELECTION_MEMORY}) so
 * that every accumulator an owner returns fits one Artery frame.
 */
public final class PlanWire {
  private PlanWire() {}

  /**
   * The most selection memory a plan over remote owners uses, all selections together: a histogram of that many
   * bytes of counts, or a collection of that many bytes of keys, is the largest answer, and it stays below the
   * 256 KiB frame (varint counts are never longer than the 8-byte longs they replace for counts below 2^49).
   */
  public static final long MAX_SELECTION_MEMORY = 128L << 10;

  /** The configuration a plan over remote owners runs with: the same, with its selection memory capped. */
  public static PlannerConfig forOwners(PlannerConfig config) {
    return config.selectionMemoryBytes() <= MAX_SELECTION_MEMORY ? config
        : config.withSelectionMemory(MAX_SELECTION_MEMORY);
  }

  // ------------------------------------------------------------------ the planner's side

  public static PlanStep pass(String planId, int group, PassAccumulator[] fresh) {
    var pass = PlanPass.newBuilder();
    for (var a : fresh) {
      pass.addSelections(state(a));
    }
    return PlanStep.newBuilder().setPlanId(planId).setGroup(group).setPass(pass).build();
  }

  public static PlanStep ties(String planId, int group, long[] thresholdKeys) {
    var ties = PlanTies.newBuilder();
    for (long k : thresholdKeys) {
      ties.addThresholdKeys(k);
    }
    return PlanStep.newBuilder().setPlanId(planId).setGroup(group).setTies(ties).build();
  }

  public static PlanStep masks(String planId, int group, long[] thresholdKeys, long[] tieQuotas) {
    var masks = PlanMasks.newBuilder();
    for (int i = 0; i < thresholdKeys.length; i++) {
      masks.addThresholdKeys(thresholdKeys[i]).addTieQuotas(tieQuotas[i]);
    }
    return PlanStep.newBuilder().setPlanId(planId).setGroup(group).setMasks(masks).build();
  }

  /** The layer-wise step of a plan whose scoring updates the kept weights ({@link GroupLayerwise}). */
  public static PlanStep layerwise(String planId, int group) {
    return PlanStep.newBuilder().setPlanId(planId).setGroup(group).setLayerwise(PlanLayerwise.getDefaultInstance())
        .build();
  }

  /** An owner's answer to the layer-wise step; checks it counts the group's tensors, in order. */
  public static LayerwiseOutcome layerwiseResult(PlanStepReply reply, List<TensorMeta> tensors) throws IOException {
    checkReply(reply, PlanStepReply.ReplyCase.LAYERWISE);
    var o = reply.getLayerwise();
    var expected = tensors.stream().map(TensorMeta::name).toList();
    var got = o.getTensorsList().stream().map(TensorPruned::getName).toList();
    if (!got.equals(expected)) {
      throw new IOException("owner of group " + reply.getGroup() + " ran the layer-wise step on " + got + ", it owns "
          + expected);
    }
    return o;
  }

  /** The final masks an owner offers after its layer-wise step, as the mask step offers masks. */
  public static MaskOutcome masksOf(LayerwiseOutcome o) {
    return MaskOutcome.newBuilder().addAllTensors(o.getTensorsList()).setMasksRef(o.getMasksRef())
        .setMaskBytes(o.getMaskBytes()).setMasksCrc32C(o.getMasksCrc32C()).build();
  }

  /** The filled accumulators of an owner's answer to a pass; checks they answer what was asked. */
  public static PassAccumulator[] passResult(PlanStepReply reply, PassAccumulator[] asked) throws IOException {
    checkReply(reply, PlanStepReply.ReplyCase.PASS);
    var states = reply.getPass().getSelectionsList();
    if (states.size() != asked.length) {
      throw new IOException("owner of group " + reply.getGroup() + " answered " + states.size()
          + " selections, the plan has " + asked.length);
    }
    var out = new PassAccumulator[asked.length];
    for (int i = 0; i < asked.length; i++) {
      out[i] = accumulator(states.get(i), true);
      if ((out[i] == null) != (asked[i] == null)) {
        throw new IOException("owner of group " + reply.getGroup() + " answered selection " + i
            + (out[i] == null ? " as resolved" : " though it was resolved"));
      }
    }
    return out;
  }

  public static long[] tiesResult(PlanStepReply reply) throws IOException {
    checkReply(reply, PlanStepReply.ReplyCase.TIES);
    return reply.getTies().getCountsList().stream().mapToLong(Long::longValue).toArray();
  }

  public static PlanParticipant.Outcome masksResult(PlanStepReply reply) throws IOException {
    checkReply(reply, PlanStepReply.ReplyCase.MASKS);
    var m = reply.getMasks();
    var tensors = m.getTensorsList().stream().map(t -> new PlanParticipant.Pruned(t.getName(), t.getPruned()))
        .toList();
    var histogram = (KeyHistogram) accumulator(PassAccumulatorState.newBuilder()
        .setHistogram(m.getScoreHistogram()).build(), true);
    return new PlanParticipant.Outcome(tensors, m.getCount(), m.getMin(), m.getMax(), m.getSum(), histogram,
        m.getTiesLeftList().stream().mapToLong(Long::longValue).toArray());
  }

  private static void checkReply(PlanStepReply reply, PlanStepReply.ReplyCase expected) throws IOException {
    if (!reply.getError().isEmpty()) {
      throw new IOException("owner of group " + reply.getGroup() + ": " + reply.getError());
    }
    if (reply.getReplyCase() != expected) {
      throw new IOException("owner of group " + reply.getGroup() + " answered " + reply.getReplyCase()
          + " where " + expected + " was asked");
    }
  }

  // ------------------------------------------------------------------ the owner's side

  /**
   * Answers one step from the owner's participant (its tensors, its statistics). Never throws: a failure
   * becomes the reply's error, which fails the plan with the owner's words.
   */
  public static PlanStepReply answer(PlanStep step, PlanParticipant participant) {
    var reply = PlanStepReply.newBuilder().setPlanId(step.getPlanId()).setGroup(step.getGroup());
    try {
      switch (step.getStepCase()) {
        case PASS -> {
          var asked = step.getPass().getSelectionsList();
          var fresh = new PassAccumulator[asked.size()];
          for (int i = 0; i < fresh.length; i++) {
            fresh[i] = accumulator(asked.get(i), false);
          }
          var filled = participant.pass(fresh);
          var pass = PlanPass.newBuilder();
          for (var a : filled) {
            pass.addSelections(state(a));
          }
          reply.setPass(pass);
        }
        case TIES -> {
          var keys = step.getTies().getThresholdKeysList().stream().mapToLong(Long::longValue).toArray();
          var counts = TieCounts.newBuilder();
          for (long c : participant.ties(keys)) {
            counts.addCounts(c);
          }
          reply.setTies(counts);
        }
        case MASKS -> {
          var keys = step.getMasks().getThresholdKeysList().stream().mapToLong(Long::longValue).toArray();
          var quotas = step.getMasks().getTieQuotasList().stream().mapToLong(Long::longValue).toArray();
          if (keys.length != quotas.length) {
            throw new IllegalArgumentException(keys.length + " threshold keys but " + quotas.length + " tie quotas");
          }
          var o = participant.masks(keys, quotas);
          var masks = MaskOutcome.newBuilder().setCount(o.count()).setMin(o.min()).setMax(o.max()).setSum(o.sum())
              .setScoreHistogram(histogram(o.scoreHistogram(), true));
          o.tensors().forEach(t -> masks.addTensors(TensorPruned.newBuilder().setName(t.name()).setPruned(t.pruned())));
          Arrays.stream(o.tiesLeft()).forEach(masks::addTiesLeft);
          reply.setMasks(masks);
        }
        default -> throw new IllegalArgumentException("a plan step with nothing to do");
      }
    } catch (IOException | RuntimeException e) {
      reply.setError(e.getMessage() == null ? e.toString() : e.getMessage());
    }
    return reply.build();
  }

  // ------------------------------------------------------------------ accumulators

  private static PassAccumulatorState state(PassAccumulator a) {
    if (a == null) {
      return PassAccumulatorState.newBuilder().setResolved(true).build();
    }
    if (a instanceof KeyHistogram h) {
      return PassAccumulatorState.newBuilder().setHistogram(histogram(h, true)).build();
    }
    var c = (KeyCollection) a;
    var state = CollectionState.newBuilder().setPrefixBits(c.prefixBits()).setPrefix(c.prefix());
    for (long k : c.keys()) {
      state.addKeys(k);
    }
    return PassAccumulatorState.newBuilder().setCollection(state).build();
  }

  private static HistogramState histogram(KeyHistogram h, boolean withCounts) {
    var state = HistogramState.newBuilder().setDigitBits(h.digitBits()).setLevel(h.level()).setPrefix(h.prefix());
    if (withCounts && h.total() > 0) { // an empty histogram travels without its zeros
      for (long c : h.counts()) {
        state.addCounts(c);
      }
    }
    return state.build();
  }

  /** @param filled whether the state carries counts or keys (an answer) or only the bucket (a question) */
  private static PassAccumulator accumulator(PassAccumulatorState s, boolean filled) {
    return switch (s.getKindCase()) {
      case HISTOGRAM -> {
        var h = s.getHistogram();
        var empty = new KeyHistogram(h.getDigitBits(), h.getLevel(), h.getPrefix());
        yield filled && h.getCountsCount() > 0 ? KeyHistogram.of(h.getDigitBits(), h.getLevel(), h.getPrefix(),
            h.getCountsList().stream().mapToLong(Long::longValue).toArray()) : empty;
      }
      case COLLECTION -> {
        var c = s.getCollection();
        yield filled ? KeyCollection.of(c.getPrefixBits(), c.getPrefix(),
            c.getKeysList().stream().mapToLong(Long::longValue).toArray())
            : new KeyCollection(c.getPrefixBits(), c.getPrefix(), 0);
      }
      case KIND_NOT_SET -> {
        if (!s.getResolved()) {
          throw new IllegalArgumentException("a selection state that is neither resolved nor an accumulator");
        }
        yield null;
      }
    };
  }
}
