package io.gaprune.api;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionStatusRequest;
import io.gaprune.worker.ClusterKeys;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.receptionist.Receptionist;

/**
 * The HTTP front's way to the session coordinator singleton, wherever in the cluster it runs: found through
 * the Receptionist, asked with protobuf commands, every step within one deadline. Anything that does not
 * answer in time becomes a 503.
 */
final class CoordinatorClient {
  private final ActorSystem<?> system;
  private final ActorRefResolver resolver;

  CoordinatorClient(ActorSystem<?> system) {
    this.system = system;
    this.resolver = ActorRefResolver.get(system);
  }

  /** Sends {@code request} (built around the reply-to ref string) and returns the coordinator's reply. */
  CommandReply ask(Function<String, GeneratedMessage> request, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    ActorRef<GeneratedMessage> coordinator = find(deadline, timeout);
    Duration left = remaining(deadline, timeout);
    try {
      GeneratedMessage answer = AskPattern.<GeneratedMessage, GeneratedMessage>ask(coordinator,
              replyTo -> request.apply(resolver.toSerializationFormat(replyTo)), left, system.scheduler())
          .toCompletableFuture().get(left.toMillis() + 500, TimeUnit.MILLISECONDS);
      if (answer instanceof CommandReply reply) {
        return reply;
      }
      throw ApiException.unavailable("the session coordinator answered with " + answer.getClass().getSimpleName());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApiException.unavailable("interrupted while waiting for the session coordinator");
    } catch (Exception e) {
      throw ApiException.unavailable("the session coordinator did not answer within " + timeout.toMillis()
          + " ms (" + e.getClass().getSimpleName() + ")");
    }
  }

  SessionStatus status(boolean withHistory, Duration timeout) {
    return ask(r -> SessionStatusRequest.newBuilder().setReplyTo(r).setWithHistory(withHistory).build(), timeout)
        .getStatus();
  }

  private ActorRef<GeneratedMessage> find(long deadline, Duration timeout) {
    while (true) {
      Duration left = remaining(deadline, timeout);
      try {
        var listing = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
                r -> Receptionist.find(ClusterKeys.COORDINATOR, r), left, system.scheduler())
            .toCompletableFuture().get(left.toMillis() + 500, TimeUnit.MILLISECONDS)
            .getServiceInstances(ClusterKeys.COORDINATOR);
        if (!listing.isEmpty()) {
          return listing.iterator().next();
        }
        // The singleton registers after its recovery; a moment after start-up it may not be listed yet.
        Thread.sleep(Math.min(200, Math.max(1, left.toMillis())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw ApiException.unavailable("interrupted while looking for the session coordinator");
      } catch (ApiException e) {
        throw e;
      } catch (Exception e) {
        throw ApiException.unavailable("cannot look up the session coordinator: " + e.getClass().getSimpleName());
      }
      if (System.nanoTime() >= deadline) {
        throw ApiException.unavailable("no session coordinator registered within " + timeout.toMillis()
            + " ms (is a node with the coordinator role up?)");
      }
    }
  }

  private static Duration remaining(long deadline, Duration timeout) {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw ApiException.unavailable("the session coordinator did not answer within " + timeout.toMillis() + " ms");
    }
    return Duration.ofNanos(left);
  }
}
