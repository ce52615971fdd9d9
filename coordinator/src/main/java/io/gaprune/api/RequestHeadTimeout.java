package io.gaprune.api;

import java.time.Duration;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;

/**
 * Closes a connection whose next request head does not arrive in time: the clock starts when the connection is
 * ready for a request (at its start, and after each answer: the server answers one request at a time) and
 * stops when a parsed request arrives. A client that sends part of a header and waits, or sends it a byte at a
 * time (which keeps Pekko's idle timeout from firing), holds its connection for at most {@code timeout}.
 * Completing the per-connection handler flow makes Pekko HTTP close the connection.
 */
final class RequestHeadTimeout extends GraphStage<FlowShape<HttpRequest, HttpRequest>> {
  private static final String HEAD = "request-head";
  private final Inlet<HttpRequest> in = Inlet.create("RequestHeadTimeout.in");
  private final Outlet<HttpRequest> out = Outlet.create("RequestHeadTimeout.out");
  private final FlowShape<HttpRequest, HttpRequest> shape = FlowShape.of(in, out);
  private final Duration timeout;

  RequestHeadTimeout(Duration timeout) {
    this.timeout = timeout;
  }

  @Override
  public FlowShape<HttpRequest, HttpRequest> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes attributes) {
    return new TimerGraphStageLogic(shape) {
      {
        setHandler(in, new AbstractInHandler() {
          @Override
          public void onPush() {
            cancelTimer(HEAD);
            push(out, grab(in));
          }
        });
        setHandler(out, new AbstractOutHandler() {
          @Override
          public void onPull() {
            pull(in);
            scheduleOnce(HEAD, timeout);
          }
        });
      }

      @Override
      public void onTimer(Object key) {
        completeStage();
      }
    };
  }
}
