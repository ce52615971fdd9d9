package io.gaprune.session;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.worker.ModelRuntime;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.NoSerializationVerificationNeeded;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Runs the {@link MaskPlanner} on the merged statistics when the coordinator says every unit is folded, off
 * the actor threads (planning reads every accumulator and the model's weights). The coordinator commits the
 * returned plan as an event; the masks are on disk where the plan says.
 */
public final class PlannerActor {
  private PlannerActor() {}

  public sealed interface Command extends NoSerializationVerificationNeeded {}

  public record Plan(SessionConfig session, List<LayerPartition> partitions, SessionAccumulators store,
      ActorRef<Reply> replyTo) implements Command {}

  public sealed interface Reply extends NoSerializationVerificationNeeded {}

  public record Planned(String sessionId, MaskPlan plan) implements Reply {}

  public record PlanFailed(String sessionId, String reason) implements Reply {}

  private record Finished(Plan request, MaskPlan plan, Throwable error) implements Command {}

  public static Behavior<Command> create(MaskPlanner planner, ModelRuntime model) {
    return Behaviors.setup(ctx -> {
      Executor blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
      return Behaviors.receive(Command.class)
          .onMessage(Plan.class, m -> {
            ctx.getLog().info("session {}: all units folded; planning masks", m.session().getSessionId());
            CompletableFuture<MaskPlan> f = CompletableFuture.supplyAsync(() -> {
              try {
                return planner.plan(m.session(), m.partitions(), m.store(), model, m.store().dir().resolve("masks"));
              } catch (RuntimeException e) {
                throw e;
              } catch (Exception e) {
                throw new IllegalStateException(e.getMessage(), e);
              }
            }, blocking);
            ctx.pipeToSelf(f, (plan, err) -> new Finished(m, plan, err));
            return Behaviors.same();
          })
          .onMessage(Finished.class, m -> {
            String id = m.request().session().getSessionId();
            if (m.error() != null) {
              Throwable cause = m.error().getCause() != null ? m.error().getCause() : m.error();
              ctx.getLog().error("session {}: planning failed: {}", id, cause.toString(), cause);
              m.request().replyTo().tell(new PlanFailed(id, "planning failed: " + cause));
            } else {
              ctx.getLog().info("session {}: plan ready, {} of {} weights pruned", id, m.plan().getPrunedWeights(),
                  m.plan().getCandidateWeights());
              m.request().replyTo().tell(new Planned(id, m.plan()));
            }
            return Behaviors.same();
          })
          .build();
    });
  }
}
