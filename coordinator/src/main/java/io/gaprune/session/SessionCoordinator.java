package io.gaprune.session;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.protocol.CancelSession;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.Drain;
import io.gaprune.protocol.DrainWorker;
import io.gaprune.protocol.Lease;
import io.gaprune.protocol.Leaving;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.MergerFold;
import io.gaprune.protocol.MergerFolded;
import io.gaprune.protocol.MergerHeld;
import io.gaprune.protocol.MergerScan;
import io.gaprune.protocol.MergerStage;
import io.gaprune.protocol.MergerStaged;
import io.gaprune.protocol.MergerTarget;
import io.gaprune.protocol.NoWorkNow;
import io.gaprune.protocol.OperatorCounters;
import io.gaprune.protocol.PlanCommitted;
import io.gaprune.protocol.Register;
import io.gaprune.protocol.RegisterAck;
import io.gaprune.protocol.RegisterRefused;
import io.gaprune.protocol.RequestWork;
import io.gaprune.protocol.SessionCancelled;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionEvent;
import io.gaprune.protocol.SessionStarted;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionStatusRequest;
import io.gaprune.protocol.StartSession;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.UnitAck;
import io.gaprune.protocol.UnitLeased;
import io.gaprune.protocol.UnitProgress;
import io.gaprune.protocol.UnitRejected;
import io.gaprune.protocol.UnitResult;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.protocol.WorkerRegistered;
import io.gaprune.worker.ClusterKeys;
import io.gaprune.worker.ModelRuntime;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * The session coordinator: a cluster singleton (role {@code coordinator}), event-sourced on the JDBC
 * journal. It splits a session into units, leases them to workers that ask, has the owners of the unit's
 * merger groups ({@link MergerEntity}, Cluster Sharding) pull its shards straight from the worker, and hands
 * the merged statistics to the {@link PlannerActor}.
 *
 * <p>Exactly once: a unit is marked done ({@code UnitCompleted}) only after every merger group of its partition
 * holds its shards durably; it enters each group's accumulator once, recorded in the accumulator file itself.
 * After a restart the journal gives the units done and leased; a scan of the groups adds the units whose shards
 * became durable everywhere just before the crash, and reopens done units a group no longer holds (lineage);
 * leases restart their clocks so live workers can report in. Lease clocks, live workers, units being merged are
 * deliberately not persisted: they are about processes that may be gone.
 *
 * <p>This class persists, dispatches and tells; the decisions are in plain classes a test reaches without a
 * cluster: {@link Leases} (which leases go out and come back), {@link MergeRounds} (when a unit is durable in
 * every group), {@link Lineage} (what the groups hold against what the journal counts done), {@link SessionStart}
 * (a request's configuration and layout), {@link SessionEvents} (the events as written).
 */
public final class SessionCoordinator extends EventSourcedBehavior<SessionCoordinator.Command, SessionEvent, SessionState> {

  public static final PersistenceId PERSISTENCE_ID = PersistenceId.ofUniqueId("gaprune-session-coordinator");

  /** Local messages only; everything from other processes arrives as protobuf inside {@link FromPeer}. */
  public sealed interface Command extends NoSerializationVerificationNeeded {}

  private record FromPeer(GeneratedMessage message) implements Command {}

  private record FromPlanner(PlannerActor.Reply reply) implements Command {}

  private enum Tick implements Command {
    INSTANCE
  }

  /** A cluster member was removed (left, or downed after a crash): its workers' leases go back at once. */
  private record MemberGone(org.apache.pekko.actor.Address address) implements Command {}

  /**
   * What the coordinator needs besides its journal.
   *
   * @param accumulatorMemory a session's partition budget when its request leaves it at 0
   * @param startTimeout how long a session start may take to read its calibration files
   * @param mergerGroups merger groups per layer partition of a new session ({@code gaprune.session.merger-groups})
   */
  public record Settings(Duration leaseTimeout, Duration leaseCheckInterval, Duration retryAfter, String codeVersion,
      Path workDir, ModelRuntime model, MaskPlanner planner, long accumulatorMemory, Duration startTimeout,
      int mergerGroups) {}

  /** A session start whose files were read off the handler: its layout, or why it cannot start. */
  private record Prepared(StartSession request, SessionStarted started, String error) implements Command {}

  private final ActorContext<Command> ctx;
  private final Settings settings;
  private final ActorRefResolver resolver;
  private final ActorRef<GeneratedMessage> endpoint;
  private final ClusterSharding sharding;
  private final String endpointRef;
  private final ActorRef<PlannerActor.Command> planner;
  private final ActorRef<PlannerActor.Reply> plannerReplies;

  // Volatile knowledge, rebuilt after a restart (see class comment).
  private final Leases leases = new Leases();
  private final MergeRounds rounds = new MergeRounds();
  private final Lineage lineage = new Lineage();
  private final LiveWorkers live = new LiveWorkers();
  // For the operator (API and metrics): counted since this incarnation started, like the rest above.
  private long shardBytes;
  private long unitFailures;
  private long leaseExpirations;
  private boolean planning;
  /** A start's files are being read (see onStart): a second start is refused meanwhile. */
  private boolean preparing;
  private boolean recovered;

  public static Behavior<Command> create(Settings settings) {
    return Behaviors.<Command>supervise(Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.leaseCheckInterval());
      return new SessionCoordinator(ctx, settings);
    }))).onFailure(SupervisorStrategy.restartWithBackoff(Duration.ofSeconds(1), Duration.ofSeconds(10), 0.2));
  }

  private SessionCoordinator(ActorContext<Command> ctx, Settings settings) {
    super(PERSISTENCE_ID);
    this.ctx = ctx;
    this.settings = settings;
    this.resolver = ActorRefResolver.get(ctx.getSystem());
    this.endpoint = ctx.messageAdapter(GeneratedMessage.class, FromPeer::new);
    this.sharding = ClusterSharding.get(ctx.getSystem());
    this.endpointRef = resolver.toSerializationFormat(endpoint);
    this.planner = ctx.spawn(PlannerActor.create(settings.planner(), settings.model()), "planner");
    this.plannerReplies = ctx.messageAdapter(PlannerActor.Reply.class, FromPlanner::new);
    ActorRef<org.apache.pekko.cluster.ClusterEvent.MemberRemoved> removed = ctx.messageAdapter(
        org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class, e -> new MemberGone(e.member().address()));
    org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).subscriptions().tell(
        org.apache.pekko.cluster.typed.Subscribe.create(removed, org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class));
  }

  @Override
  public SessionState emptyState() {
    return new SessionState();
  }

  @Override
  public EventHandler<SessionState, SessionEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(SessionState::apply);
  }

  @Override
  public SignalHandler<SessionState> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), this::onRecovered).build();
  }

  private void onRecovered(SessionState state) {
    recovered = true;
    leases.heardAll(state.leased.keySet(), System.currentTimeMillis());
    ctx.getSystem().receptionist().tell(Receptionist.register(ClusterKeys.COORDINATOR, endpoint));
    ctx.getLog().info("session coordinator up: {} (session {}, {} units: {} done, {} leased, {} pending)",
        state.status, state.config == null ? "-" : state.config.getSessionId(), state.units.size(), state.done.size(),
        state.leased.size(), state.pending.size());
    if (state.status == SessionState.Status.RUNNING) {
      scanGroups(state);
    }
  }

  @Override
  public CommandHandler<Command, SessionEvent, SessionState> commandHandler() {
    return newCommandHandlerBuilder().forAnyState()
        .onCommand(FromPeer.class, (s, m) -> onPeer(s, m.message()))
        .onCommand(FromPlanner.class, (s, m) -> onPlanner(s, m.reply()))
        .onCommand(Tick.class, (s, m) -> onTick(s))
        .onCommand(MemberGone.class, (s, m) -> onMemberGone(s, m.address()))
        .onCommand(Prepared.class, this::onPrepared)
        .build();
  }

  // ------------------------------------------------------------------ peers

  private Effect<SessionEvent, SessionState> onPeer(SessionState s, GeneratedMessage msg) {
    if (msg instanceof Register r) {
      return onRegister(s, r);
    } else if (msg instanceof RequestWork r) {
      return onRequestWork(s, r.getWorkerRef());
    } else if (msg instanceof UnitProgress p) {
      live.seen(p.getWorkerRef(), System.currentTimeMillis());
      var lease = s.leased.get(p.getUnitId());
      if (lease != null && lease.leaseId().equals(p.getLeaseId())) {
        long now = System.currentTimeMillis();
        leases.heard(p.getUnitId(), now);
        // A batch is batch_size general plus batch_size domain triplets.
        live.progress(p.getWorkerRef(), p.getUnitId(), 2L * s.config.getBatchSize() * p.getBatchesDone(), now);
      }
      return Effect().none();
    } else if (msg instanceof UnitResult r) {
      return onUnitResult(s, r);
    } else if (msg instanceof MergerStaged m) {
      return onStaged(s, m);
    } else if (msg instanceof MergerFolded m) {
      return onFolded(s, m);
    } else if (msg instanceof MergerHeld m) {
      return onHeld(s, m);
    } else if (msg instanceof UnitRejected r) {
      return onWorkerFailure(s, r);
    } else if (msg instanceof Leaving l) {
      live.remove(l.getWorkerRef());
      ctx.getLog().info("worker {} left ({})", l.getWorkerRef(), l.getReason());
      return persistAll(releaseAll(s, l.getWorkerRef(), "worker left"));
    } else if (msg instanceof StartSession st) {
      return onStart(s, st);
    } else if (msg instanceof SessionStatusRequest st) {
      SessionStatus.Builder status = status(s).toBuilder();
      if (st.getWithHistory()) {
        status.addAllHistory(s.history);
      }
      reply(st.getReplyTo(), CommandReply.newBuilder().setOk(true).setStatus(status).build());
      return Effect().none();
    } else if (msg instanceof DrainWorker d) {
      return onDrain(s, d);
    } else if (msg instanceof CancelSession c) {
      return onCancel(s, c);
    }
    ctx.getLog().warn("ignoring unexpected message {}", msg.getClass().getName());
    return Effect().none();
  }

  private Effect<SessionEvent, SessionState> onCancel(SessionState s, CancelSession c) {
    if (s.status != SessionState.Status.RUNNING) {
      reply(c.getReplyTo(), refused(CommandReply.Refusal.CONFLICT, "no running session" + (s.config == null ? ""
          : "; session " + s.config.getSessionId() + " is " + s.status), s));
      return Effect().none();
    }
    if (!c.getSessionId().isEmpty() && !c.getSessionId().equals(s.config.getSessionId())) {
      // Checked here, not in the HTTP front, so a session started in between is never cancelled by mistake.
      reply(c.getReplyTo(), refused(CommandReply.Refusal.CONFLICT, "session " + c.getSessionId()
          + " is not the running session (" + s.config.getSessionId() + ")", s));
      return Effect().none();
    }
    return Effect().persist(SessionEvents.of(SessionEvent.newBuilder().setCancelled(
            SessionCancelled.newBuilder().setReason("cancelled by the operator"))))
        .thenRun(ns -> reply(c.getReplyTo(), CommandReply.newBuilder().setOk(true).setMessage("cancelled")
            .setStatus(status(ns)).build()));
  }

  private Effect<SessionEvent, SessionState> onRegister(SessionState s, Register r) {
    String refusal = Admission.refusal(r, settings.codeVersion(), settings.model().modelHash()).orElse(null);
    if (refusal != null) {
      ctx.getLog().warn("refusing worker {} ({} on {} pid {}): {}", r.getWorkerRef(), r.getDevice(), r.getHost(),
          r.getPid(), refusal);
      tell(r.getWorkerRef(), RegisterRefused.newBuilder().setReason(refusal).build());
      return Effect().none();
    }
    live.register(r.getWorkerRef(), r.getDevice(), System.currentTimeMillis());
    RegisterAck ack = RegisterAck.newBuilder().setCoordinatorRef(resolver.toSerializationFormat(endpoint))
        .setLeaseTimeoutMs(settings.leaseTimeout().toMillis())
        .setSession(s.config == null ? SessionConfig.getDefaultInstance() : s.config).build();
    if (s.workers.containsKey(r.getWorkerRef())) {
      tell(r.getWorkerRef(), ack);
      return Effect().none();
    }
    ctx.getLog().info("worker registered: {} on {} pid {} ({})", r.getDevice(), r.getHost(), r.getPid(), r.getWorkerRef());
    return Effect().persist(SessionEvents.of(SessionEvent.newBuilder().setWorkerRegistered(WorkerRegistered.newBuilder()
            .setWorkerRef(r.getWorkerRef()).setDevice(r.getDevice()).setHost(r.getHost()).setPid(r.getPid()))))
        .thenRun(ns -> tell(r.getWorkerRef(), ack));
  }

  private Effect<SessionEvent, SessionState> onRequestWork(SessionState s, String worker) {
    boolean known = s.workers.containsKey(worker) && live.contains(worker);
    if (known) {
      live.seen(worker, System.currentTimeMillis());
    }
    Leases.Offer offer = Leases.offer(s, worker, known, live.draining(worker), rounds.units());
    if (offer instanceof Leases.NoUnit no) {
      tell(worker, no.drain() ? Drain.newBuilder().setReason(no.reason()).build()
          : NoWorkNow.newBuilder().setRetryAfterMs(settings.retryAfter().toMillis()).setReason(no.reason()).build());
      return Effect().none();
    }
    if (offer instanceof Leases.Again again) {
      leases.heard(again.unitId(), System.currentTimeMillis());
      tell(worker, lease(s, s.units.get(again.unitId()), again.lease().leaseId()));
      return Effect().none();
    }
    String unitId = ((Leases.Next) offer).unitId();
    String leaseId = UUID.randomUUID().toString();
    return Effect().persist(SessionEvents.of(SessionEvent.newBuilder().setUnitLeased(
            UnitLeased.newBuilder().setUnitId(unitId).setLeaseId(leaseId).setWorkerRef(worker))))
        .thenRun(ns -> {
          leases.heard(unitId, System.currentTimeMillis());
          ctx.getLog().info("unit {} leased to {}", unitId, live.device(worker));
          tell(worker, lease(ns, ns.units.get(unitId), leaseId));
        });
  }

  private Lease lease(SessionState s, WorkUnit unit, String leaseId) {
    return Lease.newBuilder().setLeaseId(leaseId).setUnit(unit).setSession(s.config)
        .setLeaseTimeoutMs(settings.leaseTimeout().toMillis()).build();
  }

  private Effect<SessionEvent, SessionState> onUnitResult(SessionState s, UnitResult r) {
    live.seen(r.getWorkerRef(), System.currentTimeMillis());
    String unitId = r.getUnitId();
    WorkUnit unit = s.units.get(unitId);
    boolean running = s.status == SessionState.Status.RUNNING && unit != null;
    if (!running || s.done.contains(unitId)) {
      // A retried unit that already counted, or one of no running session: acknowledge, never fold twice.
      tell(r.getWorkerRef(), UnitAck.newBuilder().setUnitId(unitId).setDuplicate(true).build());
      if (!running && !s.done.contains(unitId)) {
        ctx.getLog().info("dropping result of unit {}: not part of a running session", unitId);
      }
      return Effect().none();
    }
    leases.heard(unitId, System.currentTimeMillis());
    if (rounds.join(unitId, r.getWorkerRef())) {
      return Effect().none();
    }
    List<TensorGroup> groups = TensorGroups.of(s.groups, unit.getPartition());
    int tensors = groups.stream().mapToInt(TensorGroup::getTensorsCount).sum();
    if (r.getGroupsCount() != groups.size() || r.getTensorsCount() != tensors) {
      unitFailures++;
      tell(r.getWorkerRef(), UnitRejected.newBuilder().setUnitId(unitId).setReason("the result has "
          + r.getGroupsCount() + " shard streams and " + r.getTensorsCount() + " tensors; partition "
          + unit.getPartition() + " has " + groups.size() + " merger groups and " + tensors + " tensors").build());
      return Effect().none();
    }
    rounds.open(unitId, r.getWorkerRef(), r.getGroupsList().stream().mapToLong(g -> g.getTotalBytes()).sum(),
        System.currentTimeMillis());
    live.completed(r.getWorkerRef(), unitId, r.getGeneralSamples() + r.getDomainSamples(), System.currentTimeMillis());
    int first = 0;
    for (int i = 0; i < groups.size(); i++) {
      TensorGroup g = groups.get(i);
      var shards = r.getGroups(i);
      // the group's part of the result: its stream, its digest, its tensors' scalars, the unit's counters
      UnitResult.Builder part = r.toBuilder().clearGroups().clearTensors()
          .addAllTensors(r.getTensorsList().subList(first, first + g.getTensorsCount()))
          .setSourceRef(shards.getSourceRef()).setChunkCount(shards.getChunkCount())
          .setTotalBytes(shards.getTotalBytes()).setCrc32C(shards.getCrc32C());
      if (shards.hasTicket()) {
        part.setTicket(shards.getTicket());
      }
      first += g.getTensorsCount();
      toMerger(s, g, MergerStage.newBuilder().setTarget(target(s, g)).setResult(part).setReplyTo(endpointRef).build());
    }
    return Effect().none();
  }

  private Effect<SessionEvent, SessionState> onWorkerFailure(SessionState s, UnitRejected r) {
    var failure = leases.failed(s, r.getUnitId());
    if (failure.isEmpty()) {
      return Effect().none();
    }
    int n = failure.get().times();
    unitFailures++;
    ctx.getLog().warn("unit {} failed on a worker ({} time(s)): {}", r.getUnitId(), n, r.getReason());
    List<SessionEvent> events = new ArrayList<>();
    events.add(SessionEvents.released(r.getUnitId(), failure.get().lease(), "failed: " + r.getReason()));
    if (failure.get().fatal()) {
      events.add(SessionEvents.failed("unit " + r.getUnitId() + " failed " + n + " times; last error: " + r.getReason()));
    }
    return Effect().persist(events);
  }

  private Effect<SessionEvent, SessionState> onStart(SessionState s, StartSession st) {
    if (s.status == SessionState.Status.RUNNING || preparing) {
      reply(st.getReplyTo(), refused(CommandReply.Refusal.CONFLICT, preparing ? "another session is starting"
          : "session " + s.config.getSessionId() + " is still running", s));
      return Effect().none();
    }
    SessionConfig cfg;
    try {
      cfg = SessionStart.resolve(st.getConfig(), settings.model().modelHash(), settings.codeVersion(),
          settings.accumulatorMemory(), System.currentTimeMillis());
    } catch (RuntimeException e) {
      reply(st.getReplyTo(), refused(CommandReply.Refusal.INVALID, "cannot start the session: " + e.getMessage(), s));
      return Effect().none();
    }
    // Reading the calibration files blocks (a slow disk, a FIFO): never on this handler's thread.
    preparing = true;
    var blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
    var layout = CompletableFuture.supplyAsync(() -> SessionStart.layout(cfg, settings.model(), settings.mergerGroups()),
        blocking).orTimeout(settings.startTimeout().toMillis(), TimeUnit.MILLISECONDS);
    ctx.pipeToSelf(layout, (started, error) -> new Prepared(st, started,
        error == null ? null : SessionStart.refusal(error, settings.startTimeout())));
    return Effect().none();
  }

  private Effect<SessionEvent, SessionState> onPrepared(SessionState s, Prepared p) {
    preparing = false;
    StartSession st = p.request();
    if (p.error() != null) {
      reply(st.getReplyTo(), refused(CommandReply.Refusal.INVALID, "cannot start the session: " + p.error(), s));
      return Effect().none();
    }
    return Effect().persist(SessionEvents.of(SessionEvent.newBuilder().setStarted(p.started()))).thenRun(ns -> {
      rounds.clear();
      lineage.clear();
      leases.clear();
      planning = false;
      ctx.getLog().info("session {} started: {} units ({} partitions × {} batch ranges), {} merger groups, "
          + "statistics {}", ns.config.getSessionId(), ns.units.size(), ns.partitions.size(),
          ns.partitions.isEmpty() ? 0 : ns.units.size() / ns.partitions.size(), ns.groups.size(),
          ns.config.getStatistics());
      reply(st.getReplyTo(), CommandReply.newBuilder().setOk(true).setMessage("session " + ns.config.getSessionId()
          + " started").setStatus(status(ns)).build());
    });
  }

  private Effect<SessionEvent, SessionState> onDrain(SessionState s, DrainWorker d) {
    List<String> matched = live.drain(d.getWorker(), w -> describe(s, w));
    for (String w : matched) {
      tell(w, Drain.newBuilder().setReason("drain requested by the operator").build());
    }
    reply(d.getReplyTo(), CommandReply.newBuilder().setOk(!matched.isEmpty())
        .setRefusal(matched.isEmpty() ? CommandReply.Refusal.NOT_FOUND : CommandReply.Refusal.REFUSAL_UNSPECIFIED)
        .setMessage(matched.isEmpty() ? "no live worker matches \"" + d.getWorker() + "\"" : "draining " + matched)
        .setStatus(status(s)).build());
    return Effect().none();
  }

  // ------------------------------------------------------------------ merger and planner

  /** One group's answer to a stage: when every group of the unit's partition holds it, the unit is done. */
  private Effect<SessionEvent, SessionState> onStaged(SessionState s, MergerStaged st) {
    String unitId = st.getUnitId();
    WorkUnit unit = s.units.get(unitId);
    if (s.status != SessionState.Status.RUNNING || !st.getSessionId().equals(s.config.getSessionId()) || unit == null) {
      return Effect().none(); // an answer to an earlier session
    }
    int partition = unit.getPartition();
    MergeRounds.Answer answer = rounds.staged(st, TensorGroups.of(s.groups, partition).size());
    if (answer instanceof MergeRounds.Failed f) {
      // The worker offers the unit again; the groups that staged it answer that round as duplicates.
      unitFailures++;
      f.waiting().forEach(w -> tell(w, UnitRejected.newBuilder().setUnitId(unitId).setReason("merger group "
          + st.getGroup() + " of partition " + st.getPartition() + " on " + st.getNode() + ": " + st.getError()).build()));
      return Effect().none();
    }
    if (!(answer instanceof MergeRounds.Everywhere everywhere)) {
      return Effect().none(); // other groups still pull, or an answer to a round given up
    }
    if (s.done.contains(unitId)) {
      everywhere.waiting().forEach(w -> tell(w, UnitAck.newBuilder().setUnitId(unitId).setDuplicate(true).build()));
      return Effect().none();
    }
    return Effect().persist(SessionEvents.of(SessionEvent.newBuilder().setUnitCompleted(everywhere.completed())))
        .thenRun(ns -> {
          shardBytes += everywhere.bytes();
          everywhere.waiting().forEach(w -> tell(w, UnitAck.newBuilder().setUnitId(unitId).build()));
          ctx.getLog().info("unit {} done ({}/{})", unitId, ns.done.size(), ns.units.size());
          fold(ns, partition);
        });
  }

  /**
   * A group's fold answer: what its accumulator holds (a unit held by every group of its partition is folded),
   * and the done units it lost, which are reopened (lineage).
   */
  private Effect<SessionEvent, SessionState> onFolded(SessionState s, MergerFolded f) {
    if (s.status != SessionState.Status.RUNNING || !f.getSessionId().equals(s.config.getSessionId())) {
      return Effect().none();
    }
    if (!f.getError().isEmpty()) {
      return Effect().persist(SessionEvents.failed("accumulator of merger group " + f.getGroup() + " of partition "
          + f.getPartition() + ": " + f.getError()));
    }
    Lineage.FoldFindings found = lineage.folded(s, f);
    if (!found.lost().isEmpty()) {
      ctx.getLog().warn("merger group {} of partition {} does not hold {} unit(s) counted done ({} ...): reopening them",
          f.getGroup(), f.getPartition(), found.lost().size(), found.lost().get(0));
    }
    return persistAll(found.events()).thenRun(this::maybePlan);
  }

  /**
   * A group's answer to a scan. When every group has answered: a unit every group of its partition holds but the
   * journal does not count done is completed (it became durable just before a crash); a unit counted done that a
   * group lacks is reopened (the group's node was lost, or its entity moved to a disk without it); then every
   * partition folds.
   */
  private Effect<SessionEvent, SessionState> onHeld(SessionState s, MergerHeld h) {
    if (!lineage.scanning() || s.status != SessionState.Status.RUNNING
        || !h.getSessionId().equals(s.config.getSessionId())) {
      return Effect().none();
    }
    if (!h.getError().isEmpty()) {
      return Effect().persist(SessionEvents.failed("cannot read merger group " + h.getGroup() + " of partition "
          + h.getPartition() + " on " + h.getNode() + ": " + h.getError()));
    }
    Lineage.ScanFindings found = lineage.held(s, h).orElse(null);
    if (found == null) {
      return Effect().none(); // other groups have not answered yet
    }
    if (!found.durable().isEmpty()) {
      ctx.getLog().info("recovery: {} unit(s) were durable in every merger group but not yet marked done",
          found.durable().size());
    }
    if (!found.lost().isEmpty()) {
      ctx.getLog().warn("{} unit(s) counted done are missing from a merger group ({} ...): reopening them",
          found.lost().size(), found.lost().get(0));
    }
    return persistAll(found.events()).thenRun(ns -> ns.unitsByPartition().keySet().forEach(p -> fold(ns, p)));
  }

  /** Asks every group which units it holds (answers: {@link #onHeld}). */
  private void scanGroups(SessionState s) {
    lineage.scanSent(s, System.currentTimeMillis());
    var byPartition = s.unitsByPartition();
    for (TensorGroup g : s.groups) {
      toMerger(s, g, MergerScan.newBuilder().setTarget(target(s, g))
          .addAllUnits(byPartition.getOrDefault(g.getPartition(), List.of())).setReplyTo(endpointRef).build());
    }
  }

  /** Asks the partition's groups to fold its units counted done, in unit order, up to the first not done. */
  private void fold(SessionState s, int partition) {
    List<String> order = Lineage.foldOrder(s, partition);
    for (TensorGroup g : TensorGroups.of(s.groups, partition)) {
      toMerger(s, g, MergerFold.newBuilder().setTarget(target(s, g)).addAllOrder(order).setReplyTo(endpointRef)
          .build());
    }
  }

  private static MergerTarget target(SessionState s, TensorGroup g) {
    return MergerTarget.newBuilder().setSessionId(s.config.getSessionId()).setStatistics(s.config.getStatistics())
        .setInputStatistics(s.config.getInputStatistics()).setGroup(g).build();
  }

  private void toMerger(SessionState s, TensorGroup g, GeneratedMessage command) {
    sharding.entityRefFor(MergerEntity.KEY, TensorGroups.entityId(s.config.getSessionId(), g)).tell(command);
  }

  private void maybePlan(SessionState s) {
    if (s.status == SessionState.Status.RUNNING && s.allDone() && s.allFolded() && !planning) {
      planning = true;
      if (s.config.getStatisticsOnly()) {
        // the starter plans: the session is done with an empty plan (no masks)
        plannerReplies.tell(new PlannerActor.Planned(s.config.getSessionId(),
            MaskPlan.newBuilder().setSessionId(s.config.getSessionId()).build()));
      } else {
        planner.tell(new PlannerActor.Plan(s.config, s.partitions, accumulators(s), plannerReplies));
      }
    }
  }

  private Effect<SessionEvent, SessionState> onPlanner(SessionState s, PlannerActor.Reply reply) {
    planning = false;
    if (s.status != SessionState.Status.RUNNING) {
      return Effect().none();
    }
    if (reply instanceof PlannerActor.Planned p && p.sessionId().equals(s.config.getSessionId())) {
      return Effect().persist(SessionEvents.of(SessionEvent.newBuilder().setPlanCommitted(PlanCommitted.newBuilder()
          .setPlan(p.plan())))).thenRun(ns -> ctx.getLog().info("session {} done: {}", ns.config.getSessionId(), ns.message));
    } else if (reply instanceof PlannerActor.PlanFailed f && f.sessionId().equals(s.config.getSessionId())) {
      return Effect().persist(SessionEvents.failed(f.reason()));
    }
    return Effect().none();
  }

  // ------------------------------------------------------------------ leases

  private Effect<SessionEvent, SessionState> onTick(SessionState s) {
    if (!recovered || s.status != SessionState.Status.RUNNING) {
      return Effect().none();
    }
    long now = System.currentTimeMillis();
    // A group that never answers (its node died mid-pull): give the round up; the worker offers the unit again
    // and the groups that staged it answer as duplicates. A live owner answers within the stream's idle timeout.
    long patience = 3 * settings.leaseTimeout().toMillis();
    rejectAll(rounds.giveUpOlderThan(now, patience), "its merger groups did not all answer within " + patience / 1000
        + " s");
    if (lineage.scanOverdue(now, settings.leaseTimeout().toMillis())) {
      ctx.getLog().warn("merger groups did not all answer the scan ({} of {}); asking again", lineage.scanAnswers(),
          s.groups.size());
      scanGroups(s);
    }
    List<SessionEvent> expired = new ArrayList<>();
    for (Leases.Silent silent : leases.expired(s, rounds.units(), now, settings.leaseTimeout().toMillis())) {
      ctx.getLog().warn("lease of unit {} expired: no word from {} for {} ms; back to the queue", silent.unitId(),
          silent.lease().workerRef(), silent.silentMs());
      expired.add(SessionEvents.released(silent.unitId(), silent.lease(), "timeout"));
    }
    live.forgetSilent(now, 3 * settings.leaseTimeout().toMillis());
    leaseExpirations += expired.size();
    return persistAll(expired);
  }

  /** Tells the workers of rounds given up that their unit was not taken: they offer it again. */
  private void rejectAll(Map<String, List<String>> givenUp, String reason) {
    givenUp.forEach((unit, waiting) -> {
      ctx.getLog().warn("unit {}: {}; its worker offers it again", unit, reason);
      waiting.forEach(w -> tell(w, UnitRejected.newBuilder().setUnitId(unit).setReason(reason).build()));
    });
  }

  private Effect<SessionEvent, SessionState> onMemberGone(SessionState s, org.apache.pekko.actor.Address address) {
    String prefix = address.toString() + "/";
    live.forgetNode(prefix);
    if (s.status == SessionState.Status.RUNNING) {
      // The node may have owned merger groups: pulls to it never answer, and what it held is gone. Rounds in
      // flight start over (groups that staged answer as duplicates), and a scan reopens what the groups lost,
      // their entities now started on the remaining merger nodes.
      rejectAll(rounds.giveUpAll(), "cluster node " + address + " was removed while the unit's shards were merging");
      scanGroups(s);
    }
    List<SessionEvent> events = new ArrayList<>();
    Leases.heldBy(s, w -> w.startsWith(prefix), rounds.units()).forEach((unit, lease) -> {
      ctx.getLog().warn("worker node {} left the cluster; unit {} goes back to the queue", address, unit);
      events.add(SessionEvents.released(unit, lease, "worker node left the cluster"));
    });
    if (s.status != SessionState.Status.RUNNING) {
      return Effect().none();
    }
    leaseExpirations += events.size();
    return persistAll(events);
  }

  private List<SessionEvent> releaseAll(SessionState s, String worker, String reason) {
    List<SessionEvent> out = new ArrayList<>();
    Leases.heldBy(s, worker::equals, rounds.units()).forEach((unit, lease) ->
        out.add(SessionEvents.released(unit, lease, reason)));
    return out;
  }

  // ------------------------------------------------------------------ helpers

  /** The session's accumulators as this node's planner reads them (every group's owner local: see the class). */
  private SessionAccumulators accumulators(SessionState s) {
    Duration stepTimeout = ctx.getSystem().settings().config().getDuration("gaprune.coordinator.plan-step-timeout");
    return SessionAccumulators.local(settings.workDir(), s.config.getSessionId(), s.groups,
        io.gaprune.worker.ShardCodec.statistics(s.config))
        .withOwners(new GroupOwners(ctx.getSystem(), s.config.getSessionId(), stepTimeout));
  }

  private SessionStatus status(SessionState s) {
    return s.status(planning)
        .setCounters(OperatorCounters.newBuilder().setSessionsStarted(s.sessionsStarted).setShardBytes(shardBytes)
            .setUnitFailures(unitFailures).setLeaseExpirations(leaseExpirations))
        .addAllWorkers(live.infos(s, rounds.units(), System.currentTimeMillis())).build();
  }

  private CommandReply refused(CommandReply.Refusal refusal, String message, SessionState s) {
    return CommandReply.newBuilder().setOk(false).setRefusal(refusal).setMessage(message).setStatus(status(s)).build();
  }

  private static String describe(SessionState s, String worker) {
    WorkerRegistered reg = s.workers.get(worker);
    return reg == null ? worker : reg.getHost() + ":" + reg.getPid();
  }

  /** Persists the events, or nothing (side effects still run) when there are none. */
  private org.apache.pekko.persistence.typed.javadsl.EffectBuilder<SessionEvent, SessionState> persistAll(
      List<SessionEvent> events) {
    return events.isEmpty() ? Effect().none() : Effect().persist(events);
  }

  private void tell(String ref, GeneratedMessage msg) {
    try {
      resolver.<GeneratedMessage>resolveActorRef(ref).tell(msg);
    } catch (RuntimeException e) {
      ctx.getLog().warn("cannot reach {}: {}", ref, e.getMessage());
    }
  }

  private void reply(String ref, CommandReply msg) {
    if (!ref.isEmpty()) {
      tell(ref, msg);
    }
  }
}
