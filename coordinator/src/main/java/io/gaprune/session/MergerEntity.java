package io.gaprune.session;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.protocol.MergerFold;
import io.gaprune.protocol.MergerFolded;
import io.gaprune.protocol.MergerHeld;
import io.gaprune.protocol.MergerScan;
import io.gaprune.protocol.MergerStage;
import io.gaprune.protocol.MergerStaged;
import io.gaprune.protocol.MergerStreamEnded;
import io.gaprune.protocol.MergerTarget;
import io.gaprune.protocol.PlanStep;
import io.gaprune.protocol.PlanStepReply;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.UnitResult;
import io.gaprune.worker.ModelRuntime;
import io.gaprune.transfer.ShardClient;
import io.gaprune.worker.ShardCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.SourceRef;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * The owner of one merger group's accumulators (entity id {@code session/partition/group}, Cluster Sharding on
 * nodes of role {@value #ROLE}): it pulls each unit's shards of its group straight from the worker into a staged
 * file, folds staged units in unit order, and says which units it holds — today's staging, checksums, fold
 * order and applied-unit record ({@link AccumulatorStore}) over its group only, on its own node's disk.
 *
 * <p>Every command and reply is protobuf ({@code Merger*} in cluster.proto): the coordinator and the entity
 * may run on different nodes. The entity runs on the blocking dispatcher, as the single-node merger did:
 * its folds and fsyncs are file I/O; the pulls stream on the blocking-IO dispatcher concurrently. Its state is
 * its disk: an entity started anew (moved, passivated, restarted) opens the group's store from the command's
 * {@link MergerTarget} and knows what the files say. Generic over what a group holds: the store decides the
 * arrays of each (tensor, statistic), the entity never looks inside.
 */
public final class MergerEntity extends AbstractBehavior<GeneratedMessage> {
  public static final String ROLE = "merger";
  public static final EntityTypeKey<GeneratedMessage> KEY = EntityTypeKey.create(GeneratedMessage.class, "gaprune-merger");

  /** A unit being pulled, and who waits for its answer (a re-sent Stage joins the pull in flight). */
  private record Pull(AccumulatorStore.Staging staging, UnitResult result, List<String> waiting) {}

  private final Path workDir;
  private final Duration idleTimeout;
  private final ActorRefResolver resolver;
  private final String node;
  private final Map<String, Pull> pulls = new HashMap<>();
  private final ModelRuntime model;
  private final Executor blocking;
  /** The plan in progress: its steps come one at a time, each answered off the handler (scoring reads files). */
  private volatile GroupPlanning planning;
  private final ActorSystem<?> system;
  private AccumulatorStore store;
  private volatile ShardClient shardClient;
  private MergerTarget target;

  /**
   * Starts the merger entities' sharding on this node: it hosts entities when the node has role {@value #ROLE},
   * otherwise it is a proxy that only sends to them.
   *
   * @param model the node's model: its weights are what the groups score when the session plans by histograms
   */
  public static ActorRef<ShardingEnvelope<GeneratedMessage>> init(ActorSystem<?> system, ModelRuntime model) {
    var config = system.settings().config();
    Path workDir = Path.of(config.getString("gaprune.work-dir")).toAbsolutePath();
    // a stream silent this long is a dead worker: the same patience as a silent lease
    Duration idle = config.getDuration("gaprune.coordinator.lease-timeout");
    return ClusterSharding.get(system).init(Entity.of(KEY, ctx -> create(workDir, idle, model))
        .withRole(ROLE).withEntityProps(DispatcherSelector.blocking()));
  }

  static Behavior<GeneratedMessage> create(Path workDir, Duration idleTimeout, ModelRuntime model) {
    return Behaviors.setup(ctx -> new MergerEntity(ctx, workDir, idleTimeout, model));
  }

  private MergerEntity(ActorContext<GeneratedMessage> ctx, Path workDir, Duration idleTimeout, ModelRuntime model) {
    super(ctx);
    this.workDir = workDir;
    this.idleTimeout = idleTimeout;
    this.model = model;
    this.system = ctx.getSystem();
    this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
    this.resolver = ActorRefResolver.get(ctx.getSystem());
    this.node = Cluster.get(ctx.getSystem()).selfMember().address().toString();
  }

  @Override
  public Receive<GeneratedMessage> createReceive() {
    return newReceiveBuilder()
        .onMessage(MergerStage.class, this::onStage)
        .onMessage(MergerStreamEnded.class, this::onStreamEnded)
        .onMessage(MergerFold.class, this::onFold)
        .onMessage(MergerScan.class, this::onScan)
        .onMessage(PlanStep.class, this::onPlanStep)
        .build();
  }

  /**
   * A step of planning by histograms: scored off the handler (a pass reads every tensor of the group), answered
   * to the planner directly. The first step of a plan carries its context and sets the plan up.
   */
  private Behavior<GeneratedMessage> onPlanStep(PlanStep step) {
    CompletableFuture.runAsync(() -> {
      PlanStepReply reply;
      try {
        GroupPlanning p = planning;
        if (p == null || !p.planId().equals(step.getPlanId())) {
          p = new GroupPlanning(step, workDir, model, system);
          planning = p;
        }
        reply = p.answer(step);
      } catch (RuntimeException e) {
        reply = PlanStepReply.newBuilder().setPlanId(step.getPlanId()).setGroup(step.getGroup())
            .setError(message(e)).build();
      }
      try {
        resolver.<GeneratedMessage>resolveActorRef(step.getReplyTo()).tell(reply);
      } catch (RuntimeException e) {
        // the planner gave up waiting (its ask timed out) and fails the plan on its own
      }
    }, blocking);
    return this;
  }

  private AccumulatorStore store(MergerTarget t) {
    if (store == null || !t.equals(target)) {
      target = t;
      store = new AccumulatorStore(TensorGroups.dir(workDir, t.getSessionId(), t.getGroup()), t.getSessionId(),
          List.of(TensorGroups.asPartition(t.getGroup())), ShardCodec.statistics(t.getStatistics(), t.getInputStatistics()));
    }
    return store;
  }

  private Behavior<GeneratedMessage> onStage(MergerStage m) {
    UnitResult result = m.getResult();
    String unitId = result.getUnitId();
    int partition = m.getTarget().getGroup().getPartition();
    try {
      AccumulatorStore s = store(m.getTarget());
      if (s.applied(partition).contains(unitId) || s.readStaged(unitId) != null) {
        // Held already (a retried unit, a re-offer after a restart, a unit reopened for another group): do not
        // pull it again, and release the worker's ref at once instead of letting it time out.
        cancel(result.getSourceRef());
        reply(m.getReplyTo(), staged(m.getTarget(), unitId).setDuplicate(true).build());
        return this;
      }
      Pull inFlight = pulls.get(unitId);
      if (inFlight != null) {
        cancel(result.getSourceRef());
        inFlight.waiting().add(m.getReplyTo());
        return this;
      }
      AccumulatorStore.Staging staging = s.openStaging(unitId, partition);
      pulls.put(unitId, new Pull(staging, result, new ArrayList<>(List.of(m.getReplyTo()))));
      CompletionStage<Void> done;
      if (result.hasTicket()) {
        done = CompletableFuture.runAsync(() -> {
          try {
            shardClient().pull(result.getTicket(), staging::write);
          } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
          }
        }, blocking);
      } else {
        SourceRef<ShardChunk> ref = StreamRefResolver.get(getContext().getSystem()).resolveSourceRef(result.getSourceRef());
        done = ref.getSource()
            .idleTimeout(idleTimeout)
            .runWith(Sink.<ShardChunk>foreach(staging::write)
                .withAttributes(ActorAttributes.dispatcher("pekko.stream.materializer.blocking-io-dispatcher")),
                getContext().getSystem()).thenApply(ok -> (Void) null);
      }
      getContext().pipeToSelf(done, (Void ok, Throwable err) -> MergerStreamEnded.newBuilder().setUnitId(unitId)
          .setError(err == null ? "" : "shard stream of unit " + unitId + " failed: " + message(unwrap(err))).build());
    } catch (RuntimeException e) {
      reply(m.getReplyTo(), staged(m.getTarget(), unitId).setError("cannot stage: " + message(e)).build());
    }
    return this;
  }

  private Behavior<GeneratedMessage> onStreamEnded(MergerStreamEnded m) {
    Pull pull = pulls.remove(m.getUnitId());
    if (pull == null) {
      return this;
    }
    String error = m.getError();
    try (AccumulatorStore.Staging staging = pull.staging()) {
      if (error.isEmpty()) {
        staging.commit(pull.result());
      }
    } catch (Exception e) {
      error = message(e);
    }
    if (!error.isEmpty()) {
      getContext().getLog().warn("group {}/{}: unit {} not staged: {}", target.getGroup().getPartition(),
          target.getGroup().getIndex(), m.getUnitId(), error);
    }
    MergerStaged reply = staged(target, m.getUnitId()).setError(error)
        .setBytes(error.isEmpty() ? pull.result().getTotalBytes() : 0).build();
    pull.waiting().forEach(r -> reply(r, reply));
    return this;
  }

  private Behavior<GeneratedMessage> onFold(MergerFold m) {
    var g = m.getTarget().getGroup();
    var reply = MergerFolded.newBuilder().setSessionId(m.getTarget().getSessionId()).setPartition(g.getPartition())
        .setGroup(g.getIndex());
    try {
      AccumulatorStore s = store(m.getTarget());
      List<String> newly = s.foldReady(g.getPartition(), m.getOrderList());
      Set<String> applied = s.applied(g.getPartition());
      if (!newly.isEmpty()) {
        getContext().getLog().debug("group {}/{}: folded {}", g.getPartition(), g.getIndex(), newly);
      }
      reply.addAllApplied(applied);
      for (String unit : m.getOrderList()) {
        // every unit of the order was counted done, so held by this group once: neither folded nor staged
        // means the group lost it (lineage: the coordinator reopens it)
        if (!applied.contains(unit) && !pulls.containsKey(unit) && !staged(s, unit)) {
          reply.addMissing(unit);
        }
      }
    } catch (Exception e) {
      getContext().getLog().error("group {}/{}: fold failed: {}", g.getPartition(), g.getIndex(), message(e));
      reply.setError(message(e));
    }
    reply(m.getReplyTo(), reply.build());
    return this;
  }

  private Behavior<GeneratedMessage> onScan(MergerScan m) {
    var g = m.getTarget().getGroup();
    var reply = MergerHeld.newBuilder().setSessionId(m.getTarget().getSessionId()).setPartition(g.getPartition())
        .setGroup(g.getIndex()).setNode(node);
    try {
      AccumulatorStore s = store(m.getTarget());
      Set<String> applied = s.applied(g.getPartition());
      reply.addAllApplied(applied);
      for (String unit : m.getUnitsList()) {
        if (!applied.contains(unit) && staged(s, unit)) {
          reply.addStaged(unit);
        }
      }
    } catch (Exception e) {
      reply.setError(message(e));
    }
    reply(m.getReplyTo(), reply.build());
    return this;
  }

  /** Whether a unit's staged file is there and sound; a damaged one is dropped (the unit is recomputed). */
  private static boolean staged(AccumulatorStore s, String unit) {
    try {
      return s.readStaged(unit) != null;
    } catch (CorruptFileException bad) {
      try {
        java.nio.file.Files.deleteIfExists(s.stagedPath(unit));
      } catch (java.io.IOException ignored) {
        // the next stage of the unit replaces it
      }
      return false;
    }
  }

  private MergerStaged.Builder staged(MergerTarget t, String unitId) {
    return MergerStaged.newBuilder().setSessionId(t.getSessionId()).setPartition(t.getGroup().getPartition())
        .setGroup(t.getGroup().getIndex()).setUnitId(unitId).setNode(node);
  }

  private void reply(String ref, GeneratedMessage msg) {
    try {
      resolver.<GeneratedMessage>resolveActorRef(ref).tell(msg);
    } catch (RuntimeException e) {
      getContext().getLog().warn("cannot reach {}: {}", ref, e.getMessage());
    }
  }

  /** The shard port's client, made on first use (it reads the cluster's TLS stores). */
  private ShardClient shardClient() throws IOException {
    ShardClient c = shardClient;
    if (c == null) {
      c = ShardClient.from(system.settings().config());
      shardClient = c;
    }
    return c;
  }

  private static Throwable unwrap(Throwable e) {
    return e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
  }

  private void cancel(String sourceRef) {
    if (sourceRef.isEmpty()) {
      return; // a shard-port offer: its ticket expires unused, or the worker withdraws it on the acknowledgement
    }
    try {
      SourceRef<ShardChunk> ref = StreamRefResolver.get(getContext().getSystem()).resolveSourceRef(sourceRef);
      ref.getSource().runWith(Sink.cancelled(), getContext().getSystem());
    } catch (RuntimeException ignored) {
      // the ref may already be gone; the worker's side times out on its own
    }
  }

  private static String message(Throwable e) {
    return e.getMessage() != null ? e.getMessage() : e.toString();
  }
}
