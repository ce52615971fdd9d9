package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.BudgetMode;
import io.gaprune.planner.InMemoryTensorSource;
import io.gaprune.planner.PlanLayout;
import io.gaprune.planner.PlanParticipant;
import io.gaprune.planner.PlanShare;
import io.gaprune.planner.Planner;
import io.gaprune.planner.PlannerConfig;
import io.gaprune.planner.ScoringConfig;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.planner.TensorInput;
import io.gaprune.planner.TensorMeta;
import io.gaprune.planner.TensorSource;
import io.gaprune.protocol.PlanStep;
import io.gaprune.protocol.PlanStepReply;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Planning by histograms through the wire format: every question and answer is serialized to bytes and parsed
 * back, as it would cross Artery; the plan equals the single planner's bit for bit, every message fits the
 * 256 KiB frame, and an owner's failure fails the plan with the owner's words.
 */
class PlanWireTest {

  static final int FRAME = 256 << 10;

  /** MLP-named tensors with quantized weights (ties) and float statistics, some large enough for big buckets. */
  static List<TensorInput> model(long seed, int tensors, int size, int distinct) {
    var rnd = new SplittableRandom(seed);
    var out = new ArrayList<TensorInput>();
    for (int i = 0; i < tensors; i++) {
      var w = new float[size];
      for (int j = 0; j < size; j++) {
        w[j] = distinct > 0 ? (rnd.nextInt(distinct) - distinct / 2) * 0.125f : (float) rnd.nextGaussian();
      }
      String name = "layers." + (i / 3) + ".mlp." + new String[] {"gate_proj", "up_proj", "down_proj"}[i % 3]
          + ".weight";
      out.add(new TensorInput(new TensorMeta(name, new long[] {size / 64, 64}), w, null));
    }
    return out;
  }

  @Test
  void aPlanOverTheWireEqualsOnePlannerAndEveryMessageFitsAFrame() throws IOException {
    // OWL's budgets are measured before planning, which a planning session refuses (Partitioner.resolve)
    for (var budget : List.of(BudgetMode.GLOBAL, BudgetMode.UNIFORM)) {
      for (int distinct : new int[] {0, 5}) {
        var source = new InMemoryTensorSource(model(budget.ordinal() * 10L + distinct, 9, 64 * 700, distinct));
        // the default 8 MiB of selection memory would answer with 8 MiB histograms: capped for owners
        var config = PlanWire.forOwners(PlannerConfig.of(0.6).withBudget(budget)
            .withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE)));
        var planner = new Planner(config);
        var layout = PlanLayout.of(config, source.tensors());
        var single = new LinkedHashMap<String, byte[]>();
        var whole = planner.plan(layout,
            List.of(planner.share(layout, source, layout.candidates(), (t, m) -> single.put(t.name(), m))));

        var split = new LinkedHashMap<String, byte[]>();
        var largest = new AtomicLong();
        var owners = new ArrayList<PlanParticipant>();
        var all = layout.candidates();
        for (int g = 0; g < 3; g++) {
          var run = all.subList(all.size() * g / 3, all.size() * (g + 1) / 3);
          var share = planner.share(layout, source, run, (t, m) -> split.put(t.name(), m));
          owners.add(new RemoteParticipant("p1", g, run, overTheWire(share, largest), null));
        }
        var r = planner.plan(layout, owners);
        String label = budget + " distinct " + distinct;
        assertEquals(single.keySet(), split.keySet(), label);
        single.forEach((name, mask) -> assertArrayEquals(mask, split.get(name), label + ": " + name));
        assertEquals(whole.pruned(), r.pruned(), label);
        assertEquals(whole.selections(), r.selections(), label);
        assertTrue(largest.get() < FRAME / 2, label + ": largest message " + largest.get() + " bytes");
        assertTrue(largest.get() > 1000, label + ": the histograms should have travelled, largest " + largest.get());
      }
    }
  }

  @Test
  void anOwnersFailureFailsThePlanWithItsWords() {
    var source = new InMemoryTensorSource(model(3, 3, 64 * 10, 0));
    var config = PlanWire.forOwners(PlannerConfig.of(0.5)
        .withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE)));
    var planner = new Planner(config);
    var layout = PlanLayout.of(config, source.tensors());
    TensorSource broken = new TensorSource() {
      @Override
      public List<TensorMeta> tensors() {
        return source.tensors();
      }

      @Override
      public TensorInput load(TensorMeta t) throws IOException {
        throw new IOException("accumulator of group 0 is corrupt: CRC mismatch");
      }
    };
    var owner = new RemoteParticipant("p2", 0, layout.candidates(),
        overTheWire(planner.share(layout, broken, layout.candidates(), null), new AtomicLong()), null);
    var e = assertThrows(IOException.class, () -> planner.plan(layout, List.of(owner)));
    assertTrue(e.getMessage().contains("owner of group 0: accumulator of group 0 is corrupt"), e.getMessage());
  }

  @Test
  void anAnswerForAnotherPlanOrGroupIsRefused() {
    var source = new InMemoryTensorSource(model(4, 3, 64 * 10, 0));
    var config = PlanWire.forOwners(PlannerConfig.of(0.5)
        .withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE)));
    var planner = new Planner(config);
    var layout = PlanLayout.of(config, source.tensors());
    var share = planner.share(layout, source, layout.candidates(), null);
    RemoteParticipant.Transport stale = step -> PlanWire.answer(step.toBuilder().setPlanId("old").build(), share);
    var owner = new RemoteParticipant("p3", 0, layout.candidates(), stale, null);
    var e = assertThrows(IOException.class, () -> planner.plan(layout, List.of(owner)));
    assertTrue(e.getMessage().contains("answered for plan old"), e.getMessage());
  }

  /** Serializes each step and answer to bytes and back, recording the largest message. */
  static RemoteParticipant.Transport overTheWire(PlanShare share, AtomicLong largest) {
    return step -> {
      var bytes = step.toByteArray();
      largest.accumulateAndGet(bytes.length, Math::max);
      var reply = PlanWire.answer(PlanStep.parseFrom(bytes), share).toByteArray();
      largest.accumulateAndGet(reply.length, Math::max);
      return PlanStepReply.parseFrom(reply);
    };
  }
}
