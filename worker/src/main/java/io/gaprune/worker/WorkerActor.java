package io.gaprune.worker;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.protocol.Drain;
import io.gaprune.protocol.Lease;
import io.gaprune.protocol.Leaving;
import io.gaprune.protocol.NoWorkNow;
import io.gaprune.protocol.UnitProgress;
import io.gaprune.protocol.Register;
import io.gaprune.protocol.RegisterAck;
import io.gaprune.protocol.RegisterRefused;
import io.gaprune.protocol.RequestWork;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.ShardTicket;
import io.gaprune.protocol.UnitAck;
import io.gaprune.protocol.UnitRejected;
import io.gaprune.protocol.UnitResult;
import io.gaprune.protocol.Versions;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.transfer.ShardServer;
import io.gaprune.protocol.GroupShards;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.stream.SourceRef;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamRefs;

/**
 * One worker per device. It finds the coordinator through the Receptionist, registers (protocol, code and
 * model versions), leases a unit, computes it on a dedicated thread, offers the unit's shards as one stream per
 * merger group (tickets for its shard port, or {@link SourceRef}s) and forgets them only when the coordinator
 * acknowledges that they are durable.
 *
 * <p>Pull-based on purpose: a worker asks for work only when it is free, so a slow device never holds a
 * queue, a new worker starts taking units as soon as it registers, and a draining worker simply stops
 * asking. "Free" means its compute thread is idle and it holds at most one unit waiting for its
 * acknowledgement, and that one only when it may compute ahead ({@link WorkerSettings.ComputeAhead}): then the
 * owners pull one unit's shards while the device computes the next. Progress reports double as the lease
 * heartbeat.
 */
public final class WorkerActor extends AbstractBehavior<WorkerActor.Command> {

  /** Local messages; none crosses a process (what crosses is protobuf), hence no serialization check. */
  public sealed interface Command extends NoSerializationVerificationNeeded {}

  private record FromCoordinator(GeneratedMessage message) implements Command {}

  private record CoordinatorListing(Receptionist.Listing listing) implements Command {}

  private record Computed(Lease lease, Pending pending, Throwable error) implements Command {}

  private record BatchesDone(String unitId, int done) implements Command {}

  private enum Tick implements Command {
    INSTANCE
  }

  /** Asks this worker to finish its unit and leave (same as a {@link Drain} from the coordinator). */
  public enum DrainLocal implements Command {
    INSTANCE
  }

  /** How a worker ended, for the process around it. */
  public sealed interface Outcome {
    record Drained() implements Outcome {}

    record Refused(String reason) implements Outcome {}
  }

  /**
   * A computed unit waiting for the coordinator's acknowledgement; survives ActorSystem restarts. One digest per
   * merger group of the unit, in order.
   */
  public record Pending(Lease lease, UnitStatistics stats, List<ShardCodec.Digest> digests) {
    String unitId() {
      return lease.getUnit().getUnitId();
    }

    long chunks() {
      return digests.stream().mapToLong(ShardCodec.Digest::chunks).sum();
    }

    long bytes() {
      return digests.stream().mapToLong(ShardCodec.Digest::bytes).sum();
    }
  }

  private final WorkerSettings settings;
  private final ModelRuntime runtime;
  private final Executor computeThread;
  private final CompletableFuture<Outcome> outcome;
  /**
   * The computed units waiting for their acknowledgement, oldest first (at most two, and two only when computing
   * ahead); the process keeps the list across ActorSystem restarts, so a rejoin offers them again.
   */
  private final List<Pending> held;
  /** The worker's shard port; null when shards travel as StreamRefs ({@code gaprune.stream.transport}). */
  private final ShardServer shardPort;
  /** The last offer of each held unit: when, and its tickets, withdrawn when it is acknowledged or offered again. */
  private final Map<String, Offer> offers = new HashMap<>();
  private final ActorRef<GeneratedMessage> self;
  private final String selfRef;

  private ActorRef<GeneratedMessage> coordinator;
  private boolean registered;
  private Lease current;
  private int batchesDone;
  private long progressAt;
  private boolean draining;
  /** Whether the compute-ahead decision of {@code auto} was logged (once per incarnation). */
  private boolean aheadLogged;
  private long nextAskAt;
  private long lastNoCoordinatorLog;
  private final long startedAt = System.currentTimeMillis();

  public static Behavior<Command> create(WorkerSettings settings, ModelRuntime runtime, Executor computeThread,
      CompletableFuture<Outcome> outcome, List<Pending> held, ShardServer shardPort) {
    if (settings.shardPort() != (shardPort != null)) {
      throw new IllegalArgumentException("gaprune.stream.transport = " + (settings.shardPort() ? "tcp" : "stream-ref")
          + " but the worker was " + (shardPort != null ? "given" : "not given") + " a shard port");
    }
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(Tick.INSTANCE, java.time.Duration.ofMillis(
          Math.min(250, Math.min(settings.progressInterval().toMillis(), settings.retryInterval().toMillis()))));
      return new WorkerActor(ctx, settings, runtime, computeThread, outcome, held, shardPort);
    }));
  }

  private WorkerActor(ActorContext<Command> ctx, WorkerSettings settings, ModelRuntime runtime,
      Executor computeThread, CompletableFuture<Outcome> outcome, List<Pending> held, ShardServer shardPort) {
    super(ctx);
    this.shardPort = shardPort;
    this.settings = settings;
    this.runtime = runtime;
    this.computeThread = computeThread;
    this.outcome = outcome;
    this.held = held;
    this.self = ctx.messageAdapter(GeneratedMessage.class, FromCoordinator::new);
    this.selfRef = ActorRefResolver.get(ctx.getSystem()).toSerializationFormat(self);
    ActorRef<Receptionist.Listing> listingAdapter = ctx.messageAdapter(Receptionist.Listing.class, CoordinatorListing::new);
    ctx.getSystem().receptionist().tell(Receptionist.subscribe(ClusterKeys.COORDINATOR, listingAdapter));
    ctx.getLog().info("worker {} ({}) started, code version {}, model {}; looking for the coordinator",
        settings.device(), selfRef, settings.codeVersion(), runtime.modelHash());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(CoordinatorListing.class, this::onListing)
        .onMessage(FromCoordinator.class, m -> onCoordinator(m.message()))
        .onMessage(Computed.class, this::onComputed)
        .onMessage(BatchesDone.class, this::onBatchesDone)
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onMessageEquals(DrainLocal.INSTANCE, () -> onDrain("asked locally"))
        .build();
  }

  private Behavior<Command> onListing(CoordinatorListing m) {
    var refs = m.listing().getServiceInstances(ClusterKeys.COORDINATOR);
    ActorRef<GeneratedMessage> found = refs.isEmpty() ? null : refs.iterator().next();
    if (found == null) {
      if (coordinator != null) {
        getContext().getLog().warn("coordinator {} is gone; waiting for a new one (fail-over)", coordinator.path());
      }
      coordinator = null;
      registered = false;
    } else if (!found.equals(coordinator)) {
      coordinator = found;
      registered = false;
      getContext().getLog().info("coordinator found at {}; registering", found.path());
      register();
    }
    return this;
  }

  private void register() {
    coordinator.tell(Register.newBuilder()
        .setWorkerRef(selfRef)
        .setDevice(settings.device())
        .setProtocol(Versions.protocol())
        .setCodeVersion(settings.codeVersion())
        .setModelHash(runtime.modelHash())
        .setHost(hostName())
        .setPid(ProcessHandle.current().pid())
        .build());
  }

  private Behavior<Command> onCoordinator(GeneratedMessage msg) {
    if (msg instanceof RegisterAck) {
      if (!registered) {
        getContext().getLog().info("registered with the coordinator (lease timeout {} ms)",
            ((RegisterAck) msg).getLeaseTimeoutMs());
      }
      registered = true;
      nextAskAt = 0;
      held.forEach(this::offer);
      askForWork();
    } else if (msg instanceof RegisterRefused refused) {
      getContext().getLog().error("the coordinator refused this worker: {}", refused.getReason());
      outcome.complete(new Outcome.Refused(refused.getReason()));
      return Behaviors.stopped();
    } else if (msg instanceof Lease lease) {
      onLease(lease);
    } else if (msg instanceof NoWorkNow none) {
      nextAskAt = System.currentTimeMillis() + Math.max(100, none.getRetryAfterMs());
    } else if (msg instanceof UnitAck ack) {
      Pending p = heldUnit(ack.getUnitId());
      if (p != null) {
        getContext().getLog().info("unit {} acknowledged{}", ack.getUnitId(), ack.getDuplicate() ? " (already held)" : "");
        held.remove(p);
        withdraw(offers.remove(p.unitId()));
        if (draining && current == null && held.isEmpty()) {
          return leave();
        }
        askForWork();
      }
    } else if (msg instanceof UnitRejected rejected) {
      Pending p = heldUnit(rejected.getUnitId());
      if (p != null) {
        getContext().getLog().warn("unit {} was not taken: {}; offering it again", rejected.getUnitId(), rejected.getReason());
        offer(p);
      }
    } else if (msg instanceof Drain drain) {
      return onDrain(drain.getReason());
    } else {
      getContext().getLog().warn("ignoring unexpected message {}", msg.getClass().getSimpleName());
    }
    return this;
  }

  private void onLease(Lease lease) {
    Pending computed = heldUnit(lease.getUnit().getUnitId());
    if (computed != null) {
      // The coordinator lost this unit's result (it leases it to us again): offer what we hold, compute nothing.
      getContext().getLog().info("unit {} leased again while held; offering it again", computed.unitId());
      offer(computed);
      return;
    }
    // Only the structural limits here, not the heap check of mayTakeWork: a lease this worker asked for is taken
    // even if the heap changed since (ignored, it would sit idle until its lease times out).
    if (current != null || held.size() > 1 || draining) {
      // Not ours to take now: say nothing, the lease expires and the unit goes to someone else.
      getContext().getLog().warn("ignoring lease of {} while busy", lease.getUnit().getUnitId());
      return;
    }
    current = lease;
    batchesDone = 0;
    String unitId = lease.getUnit().getUnitId();
    getContext().getLog().info("leased unit {} ({} batches){}", unitId, lease.getUnit().getBatchesCount(),
        held.isEmpty() ? "" : ", computing ahead of unit " + held.get(0).unitId() + "'s acknowledgement");
    sendProgress();
    ActorRef<Command> me = getContext().getSelf();
    CompletableFuture.supplyAsync(() -> {
      try {
        UnitStatistics stats = runtime.compute(lease.getUnit(), lease.getSession(),
            done -> me.tell(new BatchesDone(unitId, done)));
        return checked(lease, stats);
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e.getMessage(), e);
      }
    }, computeThread).whenComplete((pending, error) -> me.tell(new Computed(lease, pending, error)));
  }

  /**
   * A computed unit checked (every tensor and statistic there, all finite) and digested per merger group: a pass
   * over every value, so it runs on the compute thread, not in a message handler.
   */
  private Pending checked(Lease lease, UnitStatistics stats) {
    var tensors = lease.getUnit().getTensorsList();
    var statistics = ShardCodec.statistics(lease.getSession());
    ShardCodec.checkCovers(stats, tensors, statistics);
    ShardCodec.checkFinite(stats, tensors, statistics);
    List<ShardCodec.Digest> digests = new ArrayList<>();
    for (var group : ShardCodec.groups(lease.getUnit())) {
      digests.add(ShardCodec.digest(stats, group, statistics, settings.chunkBytes()));
    }
    return new Pending(lease, stats, digests);
  }

  private Behavior<Command> onBatchesDone(BatchesDone m) {
    if (current != null && current.getUnit().getUnitId().equals(m.unitId())) {
      batchesDone = m.done();
    }
    return this;
  }

  private Behavior<Command> onComputed(Computed m) {
    current = null;
    progressAt = 0;
    String unitId = m.lease().getUnit().getUnitId();
    Throwable error = m.error();
    Pending pending = m.pending();
    if (error != null) {
      Throwable cause = error.getCause() != null && error instanceof java.util.concurrent.CompletionException ? error.getCause() : error;
      if (stopped(cause)) {
        // the process is stopping (SIGTERM): not the unit's failure, which would count towards failing the
        // session; the lease goes back to the queue when this node leaves the cluster
        getContext().getLog().info("unit {} stopped: the worker is stopping", unitId);
        return this;
      }
      getContext().getLog().error("unit {} failed: {}", unitId, cause.toString(), cause);
      if (coordinator != null) {
        coordinator.tell(UnitRejected.newBuilder().setUnitId(unitId)
            .setReason("worker " + settings.device() + ": " + cause).build());
      }
      if (draining && held.isEmpty()) {
        return leave();
      }
      nextAskAt = System.currentTimeMillis() + settings.retryInterval().toMillis();
      return this;
    }
    held.add(pending);
    getContext().getLog().info("unit {} computed: {} chunks, {} bytes", unitId, pending.chunks(), pending.bytes());
    offer(pending);
    askForWork();
    return this;
  }

  private Pending heldUnit(String unitId) {
    return held.stream().filter(p -> p.unitId().equals(unitId)).findFirst().orElse(null);
  }

  /**
   * Whether the worker may lease a unit now, as far as its held units go: none held, or one held and computing
   * ahead allowed (under {@code auto}: the heap has twice that unit's sums free, room for the next unit's and
   * some to spare).
   */
  private boolean mayTakeWork() {
    if (held.isEmpty()) {
      return true;
    }
    if (held.size() > 1) {
      return false;
    }
    return switch (settings.computeAhead()) {
      case ON -> true;
      case OFF -> false;
      case AUTO -> {
        long sums = held.get(0).stats().heapBytes();
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        boolean room = free >= 2 * sums;
        if (!aheadLogged) {
          aheadLogged = true;
          getContext().getLog().info("computing ahead {}: a unit's sums take {} MB, {} MB of the heap free",
              room ? "on" : "off while the heap is short", sums >> 20, free >> 20);
        }
        yield room;
      }
    };
  }

  /** Whether a compute ended because its thread was interrupted (the worker process is stopping). */
  static boolean stopped(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (t instanceof InterruptedException || t instanceof java.io.InterruptedIOException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Offers the shards of a computed unit, one stream per merger group, each pulled by that group's owner straight
   * from here: a single-use ticket for the shard port, or a StreamRef; fresh ones each time (each is good for one
   * pull), the previous offer's withdrawn.
   */
  private void offer(Pending p) {
    List<ShardTicket> tickets = new ArrayList<>();
    withdraw(offers.put(p.unitId(), new Offer(System.currentTimeMillis(), tickets)));
    if (coordinator == null || !registered) {
      return; // offered again once registered
    }
    var unit = p.lease().getUnit();
    var statistics = ShardCodec.statistics(p.lease().getSession());
    var groups = ShardCodec.groups(unit);
    UnitResult.Builder result = UnitResult.newBuilder();
    for (int i = 0; i < groups.size(); i++) {
      var tensors = groups.get(i);
      ShardCodec.Digest digest = p.digests().get(i);
      var shards = GroupShards.newBuilder().setGroup(i)
          .setChunkCount(digest.chunks()).setTotalBytes(digest.bytes()).setCrc32C(digest.crc32c());
      if (shardPort != null) {
        // the port writes each chunk out before it asks for the next: one buffer serves them all
        ShardTicket ticket = shardPort.offer(
            () -> ShardCodec.transientChunks(p.stats(), tensors, statistics, settings.chunkBytes()));
        tickets.add(ticket);
        shards.setTicket(ticket);
      } else {
        SourceRef<ShardChunk> ref = Source.fromIterator(
                () -> ShardCodec.chunks(p.stats(), tensors, statistics, settings.chunkBytes()))
            .runWith(StreamRefs.sourceRef(), getContext().getSystem());
        shards.setSourceRef(StreamRefResolver.get(getContext().getSystem()).toSerializationFormat(ref));
      }
      result.addGroups(shards);
    }
    UnitStatistics s = p.stats();
    coordinator.tell(result
        .setWorkerRef(selfRef)
        .setUnitId(unit.getUnitId())
        .setLeaseId(p.lease().getLeaseId())
        .setGeneralSamples(s.generalSamples())
        .setDomainSamples(s.domainSamples())
        .setBatches(s.batches())
        .setGeneralLossSum(s.generalLossSum())
        .setDomainLossSum(s.domainLossSum())
        .addAllTensors(ShardCodec.metas(s, unit.getTensorsList()))
        .setChunkCount(p.chunks())
        .setTotalBytes(p.bytes())
        .build());
  }

  /** When a held unit was last offered, and that offer's tickets. */
  private record Offer(long at, List<ShardTicket> tickets) {}

  private void withdraw(Offer offer) {
    if (shardPort != null && offer != null) {
      offer.tickets().forEach(shardPort::withdraw);
    }
  }

  private Behavior<Command> onTick() {
    long now = System.currentTimeMillis();
    if (coordinator == null) {
      if (now - Math.max(lastNoCoordinatorLog, startedAt) >= settings.retryInterval().toMillis()) {
        lastNoCoordinatorLog = now;
        getContext().getLog().warn("coordinator unreachable (seed nodes {}); retrying every {} s",
            settings.seedNodes(), settings.retryInterval().toSeconds());
      }
      return this;
    }
    if (!registered) {
      if (now - lastNoCoordinatorLog >= settings.retryInterval().toMillis()) {
        lastNoCoordinatorLog = now;
        getContext().getLog().warn("no answer from the coordinator at {} yet; registering again", coordinator.path());
        register();
      }
      return this;
    }
    if (current != null && now - progressAt >= settings.progressInterval().toMillis()) {
      sendProgress();
    }
    for (Pending p : List.copyOf(held)) {
      Offer last = offers.get(p.unitId());
      if (last == null || now - last.at() >= settings.ackTimeout().toMillis()) {
        getContext().getLog().warn("no acknowledgement for unit {} after {} s; offering it again",
            p.unitId(), settings.ackTimeout().toSeconds());
        offer(p);
      }
    }
    if (now >= nextAskAt) {
      askForWork();
    }
    return this;
  }

  private void sendProgress() {
    progressAt = System.currentTimeMillis();
    if (coordinator != null && current != null) {
      coordinator.tell(UnitProgress.newBuilder().setWorkerRef(selfRef).setUnitId(current.getUnit().getUnitId())
          .setLeaseId(current.getLeaseId()).setBatchesDone(batchesDone)
          .setBatchesTotal(current.getUnit().getBatchesCount()).build());
    }
  }

  private void askForWork() {
    if (coordinator != null && registered && !draining && current == null && mayTakeWork()) {
      // Guard against a lost reply: ask again after a while if nothing comes.
      nextAskAt = System.currentTimeMillis() + Math.max(2000, 2 * settings.retryInterval().toMillis());
      coordinator.tell(RequestWork.newBuilder().setWorkerRef(selfRef).build());
    }
  }

  private Behavior<Command> onDrain(String reason) {
    if (!draining) {
      getContext().getLog().info("draining ({}): finishing the current unit, then leaving", reason);
    }
    draining = true;
    if (current == null && held.isEmpty()) {
      return leave();
    }
    return this;
  }

  private Behavior<Command> leave() {
    if (coordinator != null) {
      coordinator.tell(Leaving.newBuilder().setWorkerRef(selfRef).setReason("drained").build());
    }
    getContext().getLog().info("worker {} drained; leaving", settings.device());
    outcome.complete(new Outcome.Drained());
    return Behaviors.stopped();
  }

  private static String hostName() {
    String name = ManagementFactory.getRuntimeMXBean().getName();
    int at = name.indexOf('@');
    return at >= 0 ? name.substring(at + 1) : name;
  }
}
