package io.gaprune.session;

import io.gaprune.planner.PassAccumulator;
import io.gaprune.planner.PlanParticipant;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.MaskOutcome;
import io.gaprune.protocol.PlanStep;
import io.gaprune.protocol.PlanStepReply;
import java.io.IOException;
import java.util.List;

/**
 * The planner's view of a tensor group's owner elsewhere in the cluster: each question becomes a
 * {@link PlanStep} through a transport (an ask to the owner entity, awaited on the planner's blocking thread),
 * each answer is checked and decoded by {@link PlanWire}.
 */
public final class RemoteParticipant implements PlanParticipant {

  /** Delivers a step to the owner and waits for its answer (bounded by the transport's own timeout). */
  @FunctionalInterface
  public interface Transport {
    PlanStepReply call(PlanStep step) throws IOException;
  }

  /** Takes the owner's masks after its answer to the mask step (pulls its stream into the plan's file). */
  @FunctionalInterface
  public interface MaskReceiver {
    void receive(MaskOutcome masks) throws IOException;
  }

  private final String planId;
  private final int group;
  private final List<TensorMeta> tensors;
  private final Transport transport;
  private final MaskReceiver masks;

  /** @param masks takes the masks the owner offers (null: the masks stay with the owner) */
  public RemoteParticipant(String planId, int group, List<TensorMeta> tensors, Transport transport,
      MaskReceiver masks) {
    this.planId = planId;
    this.group = group;
    this.tensors = List.copyOf(tensors);
    this.transport = transport;
    this.masks = masks;
  }

  @Override
  public List<TensorMeta> tensors() {
    return tensors;
  }

  @Override
  public PassAccumulator[] pass(PassAccumulator[] fresh) throws IOException {
    return PlanWire.passResult(call(PlanWire.pass(planId, group, fresh)), fresh);
  }

  @Override
  public long[] ties(long[] thresholdKeys) throws IOException {
    var counts = PlanWire.tiesResult(call(PlanWire.ties(planId, group, thresholdKeys)));
    if (counts.length != thresholdKeys.length) {
      throw new IOException("owner of group " + group + " counted ties of " + counts.length + " selections, the plan "
          + "has " + thresholdKeys.length);
    }
    return counts;
  }

  @Override
  public Outcome masks(long[] thresholdKeys, long[] tieQuotas) throws IOException {
    var reply = call(PlanWire.masks(planId, group, thresholdKeys, tieQuotas));
    var o = PlanWire.masksResult(reply);
    var expected = tensors.stream().map(TensorMeta::name).toList();
    var got = o.tensors().stream().map(Pruned::name).toList();
    if (!got.equals(expected)) {
      throw new IOException("owner of group " + group + " counted masks of " + got + ", it owns " + expected);
    }
    if (masks != null) {
      masks.receive(reply.getMasks());
    }
    return o;
  }

  private PlanStepReply call(PlanStep step) throws IOException {
    var reply = transport.call(step);
    if (!reply.getPlanId().equals(planId) || reply.getGroup() != group) {
      throw new IOException("owner of group " + group + " answered for plan " + reply.getPlanId() + ", group "
          + reply.getGroup());
    }
    return reply;
  }
}
