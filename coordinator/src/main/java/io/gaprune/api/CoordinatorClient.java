package io.gaprune.api;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionStatusRequest;
import io.gaprune.worker.ClusterKeys;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.pattern.Patterns;

/**
 * The HTTP front's way to the session coordinator singleton, wherever in the cluster it runs: found through
 * the Receptionist, asked with protobuf commands, every step within one deadline. Anything that does not
 * answer in time becomes a 503. Asynchronous at its core (no thread waits for /health); the blocking forms
 * serve the endpoints that run on the front's worker threads.
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
    try {
      return askAsync(request, timeout).toCompletableFuture().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApiException.unavailable("interrupted while waiting for the session coordinator");
    } catch (ExecutionException e) {
      throw unwrap(e.getCause(), timeout);
    } catch (java.util.concurrent.TimeoutException e) {
      throw ApiException.unavailable("the session coordinator did not answer within " + timeout.toMillis() + " ms");
    }
  }

  SessionStatus status(boolean withHistory, Duration timeout) {
    return ask(r -> SessionStatusRequest.newBuilder().setReplyTo(r).setWithHistory(withHistory).build(), timeout)
        .getStatus();
  }

  CompletionStage<SessionStatus> statusAsync(boolean withHistory, Duration timeout) {
    return askAsync(r -> SessionStatusRequest.newBuilder().setReplyTo(r).setWithHistory(withHistory).build(), timeout)
        .thenApply(CommandReply::getStatus);
  }

  /** As {@link #ask}, completing with the reply or failing with an {@link ApiException} (503). */
  CompletionStage<CommandReply> askAsync(Function<String, GeneratedMessage> request, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    return find(deadline, timeout).thenCompose(coordinator -> {
      Duration left = remaining(deadline, timeout);
      return AskPattern.<GeneratedMessage, GeneratedMessage>ask(coordinator,
          replyTo -> request.apply(resolver.toSerializationFormat(replyTo)), left, system.scheduler());
    }).handle((answer, error) -> {
      if (error != null) {
        throw unwrap(error, timeout);
      }
      if (answer instanceof CommandReply reply) {
        return reply;
      }
      throw ApiException.unavailable("the session coordinator answered with " + answer.getClass().getSimpleName());
    });
  }

  private CompletionStage<ActorRef<GeneratedMessage>> find(long deadline, Duration timeout) {
    long leftNanos = deadline - System.nanoTime();
    if (leftNanos <= 0) {
      return CompletableFuture.failedFuture(notRegistered(timeout));
    }
    return AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
            r -> Receptionist.find(ClusterKeys.COORDINATOR, r), Duration.ofNanos(leftNanos), system.scheduler())
        .exceptionally(e -> {
          throw notRegistered(timeout);
        })
        .thenCompose(listing -> {
          var refs = listing.getServiceInstances(ClusterKeys.COORDINATOR);
          if (!refs.isEmpty()) {
            return CompletableFuture.completedFuture(refs.iterator().next());
          }
          long wait = Math.min(200, Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
          if (System.nanoTime() + wait * 1_000_000 >= deadline) {
            return CompletableFuture.failedFuture(notRegistered(timeout));
          }
          // The singleton registers after its recovery; a moment after start-up it may not be listed yet.
          return Patterns.after(Duration.ofMillis(wait), system.classicSystem().scheduler(), system.executionContext(),
              () -> find(deadline, timeout));
        });
  }

  private static ApiException notRegistered(Duration timeout) {
    return ApiException.unavailable("no session coordinator registered within " + timeout.toMillis()
        + " ms (is a node with the coordinator role up?)");
  }

  private static ApiException unwrap(Throwable error, Duration timeout) {
    Throwable e = error;
    while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
      e = e.getCause();
    }
    if (e instanceof ApiException api) {
      return api;
    }
    return ApiException.unavailable("the session coordinator did not answer within " + timeout.toMillis()
        + " ms (" + e.getClass().getSimpleName() + ")");
  }

  private static Duration remaining(long deadline, Duration timeout) {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw ApiException.unavailable("the session coordinator did not answer within " + timeout.toMillis() + " ms");
    }
    return Duration.ofNanos(left);
  }
}
