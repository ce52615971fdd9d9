package io.gaprune.session;

import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.UnitResult;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.SourceRef;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * Pulls finished units' shards through their {@link SourceRef}s (back-pressured: the worker produces a chunk
 * only when the file write of the previous ones made room) into staged files, and folds staged units into the
 * partition accumulators in fold order. Runs on the blocking dispatcher: it writes and fsyncs files.
 * One fold at a time (this actor's mailbox serializes them); pulls run concurrently.
 */
public final class ShardMerger {
  private ShardMerger() {}

  public sealed interface Command extends NoSerializationVerificationNeeded {}

  /** Pull a unit's shards into a staged file (or confirm the unit is already durable). */
  public record Stage(AccumulatorStore store, UnitResult result, int partition, ActorRef<Reply> replyTo)
      implements Command {}

  /** Fold the staged units of a partition that are next in {@code order}. */
  public record Fold(AccumulatorStore store, int partition, List<String> order, ActorRef<Reply> replyTo)
      implements Command {}

  /** Report the units the disk holds durably (after a coordinator restart). */
  public record Scan(AccumulatorStore store, Map<Integer, List<String>> unitsByPartition, ActorRef<Reply> replyTo)
      implements Command {}

  public sealed interface Reply extends NoSerializationVerificationNeeded {}

  /** {@code error} null: the unit's shards are durable (staged now, staged before, or already folded). */
  public record Staged(String unitId, String workerRef, int crc32c, String error) implements Reply {}

  /** {@code applied}: every unit the accumulator holds (the file's record, the truth after any crash). */
  public record Folded(int partition, List<String> newlyApplied, List<String> applied, String error) implements Reply {}

  /** unit id → true if folded, false if staged only. */
  public record Durable(Map<String, Boolean> units, String error) implements Reply {}

  private record StreamEnded(Stage stage, AccumulatorStore.Staging staging, Throwable error) implements Command {}

  public static Behavior<Command> create(Duration idleTimeout) {
    return Behaviors.setup(ctx -> Behaviors.receive(Command.class)
        .onMessage(Stage.class, m -> {
          String unitId = m.result().getUnitId();
          try {
            if (m.store().applied(m.partition()).contains(unitId) || m.store().readStaged(unitId) != null) {
              // Already durable (a retried unit, or a re-offer after a coordinator restart): do not pull it
              // again, and release the worker's ref at once instead of letting it time out.
              cancel(ctx.getSystem(), m.result().getSourceRef());
              m.replyTo().tell(new Staged(unitId, m.result().getWorkerRef(), m.result().getCrc32C(), null));
              return Behaviors.same();
            }
          } catch (RuntimeException e) {
            m.replyTo().tell(new Staged(unitId, m.result().getWorkerRef(), 0, e.toString()));
            return Behaviors.same();
          }
          AccumulatorStore.Staging staging;
          SourceRef<ShardChunk> ref;
          try {
            ref = StreamRefResolver.get(ctx.getSystem()).resolveSourceRef(m.result().getSourceRef());
            staging = m.store().openStaging(unitId, m.partition());
          } catch (RuntimeException e) {
            m.replyTo().tell(new Staged(unitId, m.result().getWorkerRef(), 0, "cannot open the shard stream: " + e));
            return Behaviors.same();
          }
          CompletionStage<Done> done = ref.getSource()
              .idleTimeout(idleTimeout)
              .runWith(Sink.<ShardChunk>foreach(staging::write)
                  .withAttributes(ActorAttributes.dispatcher("pekko.stream.materializer.blocking-io-dispatcher")),
                  ctx.getSystem());
          ctx.pipeToSelf(done, (ok, err) -> new StreamEnded(m, staging, err));
          return Behaviors.same();
        })
        .onMessage(StreamEnded.class, m -> {
          String unitId = m.stage().result().getUnitId();
          String error = null;
          try (AccumulatorStore.Staging staging = m.staging()) {
            if (m.error() != null) {
              error = "shard stream of unit " + unitId + " failed: " + m.error();
            } else {
              staging.commit(m.stage().result());
            }
          } catch (Exception e) {
            error = String.valueOf(e.getMessage() != null ? e.getMessage() : e);
          }
          if (error != null) {
            ctx.getLog().warn("unit {} not staged: {}", unitId, error);
          }
          m.stage().replyTo().tell(new Staged(unitId, m.stage().result().getWorkerRef(),
              m.stage().result().getCrc32C(), error));
          return Behaviors.same();
        })
        .onMessage(Fold.class, m -> {
          ctx.getLog().debug("fold request: partition {} ({} units)", m.partition(), m.order().size());
          try {
            List<String> newly = m.store().foldReady(m.partition(), m.order());
            List<String> applied = List.copyOf(m.store().applied(m.partition()));
            if (!newly.isEmpty()) {
              ctx.getLog().info("partition {}: folded {} ({} of {} units)", m.partition(), newly, applied.size(),
                  m.order().size());
            }
            m.replyTo().tell(new Folded(m.partition(), newly, applied, null));
          } catch (Exception e) {
            ctx.getLog().error("partition {}: fold failed: {}", m.partition(), e.getMessage());
            m.replyTo().tell(new Folded(m.partition(), List.of(), List.of(), e.getMessage() != null ? e.getMessage() : e.toString()));
          }
          return Behaviors.same();
        })
        .onMessage(Scan.class, m -> {
          try {
            m.replyTo().tell(new Durable(m.store().durableUnits(m.unitsByPartition()), null));
          } catch (Exception e) {
            m.replyTo().tell(new Durable(Map.of(), e.getMessage() != null ? e.getMessage() : e.toString()));
          }
          return Behaviors.same();
        })
        .build());
  }

  private static void cancel(org.apache.pekko.actor.typed.ActorSystem<?> system, String sourceRef) {
    try {
      SourceRef<ShardChunk> ref = StreamRefResolver.get(system).resolveSourceRef(sourceRef);
      ref.getSource().runWith(Sink.cancelled(), system);
    } catch (RuntimeException ignored) {
      // the ref may already be gone; the worker's side times out on its own
    }
  }
}
