package io.gaprune.worker;

import com.google.protobuf.GeneratedMessage;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/** Receptionist keys shared by coordinator and workers. */
public final class ClusterKeys {
  /** The session coordinator's protobuf endpoint (registered by the singleton wherever it runs). */
  public static final ServiceKey<GeneratedMessage> COORDINATOR =
      ServiceKey.create(GeneratedMessage.class, "gaprune-session-coordinator");

  private ClusterKeys() {}
}
