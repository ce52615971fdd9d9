package io.gaprune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The launcher makes a bare-metal worker's {@code --device} true the way the container entrypoint does: the
 * model runtime uses the process's default device, so {@code gpu:N} must leave only GPU N visible and
 * {@code cpu} none; an operator's own CUDA_VISIBLE_DEVICES is left alone.
 */
class LauncherTest {

  static DeployFiles.Result launch(Path home, Map<String, String> env, String... args) throws Exception {
    var cmd = new java.util.ArrayList<>(List.of(home.resolve("gaprune").toString()));
    cmd.addAll(List.of(args));
    var pb = new ProcessBuilder(cmd);
    pb.environment().clear();
    pb.environment().put("PATH", DeployFiles.path());
    pb.environment().putAll(env);
    return DeployFiles.run(pb);
  }

  @Test
  void aWorkerSeesOnlyTheDeviceItIsFor() throws Exception {
    Path home = DeployFiles.distribution(DeployFiles.testDir("launcher"));
    var gpu = launch(home, Map.of(), "worker", "--device", "gpu:5", "--help");
    assertEquals(0, gpu.exit(), gpu.stderr());
    assertTrue(gpu.stderr().contains("CUDA_VISIBLE_DEVICES=\"5\""), gpu.stderr());
    var cpu = launch(home, Map.of(), "worker", "--device=cpu", "--help");
    assertTrue(cpu.stderr().contains("CUDA_VISIBLE_DEVICES=\"\""), cpu.stderr());
    var explicit = launch(home, Map.of("CUDA_VISIBLE_DEVICES", "2"), "worker", "--device", "gpu:5", "--help");
    assertEquals(0, explicit.exit(), explicit.stderr());
    assertFalse(explicit.stderr().contains("CUDA_VISIBLE_DEVICES"), explicit.stderr());
    var other = launch(home, Map.of(), "eval", "--help");
    assertFalse(other.stderr().contains("CUDA_VISIBLE_DEVICES"), "only workers are pinned: " + other.stderr());
  }
}
