package io.gaprune.protocol;

/** Versions a node announces: the wire protocol's, and the code's (a worker must run the coordinator's build). */
public final class Versions {
  /** Bump the major version on any change that an older peer would misread. */
  public static final int PROTOCOL_MAJOR = 4; // 2: float32 shard values, optional gradient sums; 3: a shard stream per merger group;
  // 4: shards over the worker's shard port (ShardTicket), mask chunks eight weights per byte

  public static final int PROTOCOL_MINOR = 0;

  private Versions() {}

  public static ProtocolVersion protocol() {
    return ProtocolVersion.newBuilder().setMajor(PROTOCOL_MAJOR).setMinor(PROTOCOL_MINOR).build();
  }

  /**
   * The build's version: {@code gaprune.code-version} when set (tests use it to impersonate another
   * build), else the jar manifest's Implementation-Version, else "dev" (classes run from a build tree).
   */
  public static String code(String configured) {
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    String fromJar = Versions.class.getPackage().getImplementationVersion();
    return fromJar != null ? fromJar : "dev";
  }
}
