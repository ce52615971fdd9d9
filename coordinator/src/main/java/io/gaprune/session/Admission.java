package io.gaprune.session;

import io.gaprune.protocol.Register;
import io.gaprune.protocol.Versions;
import java.util.Optional;

/** Whether a worker may join: the same protocol major version, the same build, the same model. */
final class Admission {
  private Admission() {}

  /** Why {@code r} is refused, or empty when it is admitted; the reason tells the operator what to change. */
  static Optional<String> refusal(Register r, String codeVersion, String modelHash) {
    if (r.getProtocol().getMajor() != Versions.PROTOCOL_MAJOR) {
      return Optional.of("protocol version " + r.getProtocol().getMajor() + "." + r.getProtocol().getMinor()
          + " is not the coordinator's " + Versions.PROTOCOL_MAJOR + "." + Versions.PROTOCOL_MINOR);
    }
    if (!r.getCodeVersion().equals(codeVersion)) {
      return Optional.of("code version \"" + r.getCodeVersion() + "\" differs from the coordinator's \""
          + codeVersion + "\"; run the same gaprune build on every node");
    }
    if (!r.getModelHash().equals(modelHash)) {
      return Optional.of("model hash " + r.getModelHash() + " differs from the coordinator's " + modelHash
          + "; every node must load the same model");
    }
    return Optional.empty();
  }
}
