package io.gaprune.session;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.worker.ModelRuntime;
import java.nio.file.Path;
import java.util.List;

/**
 * The planning step the {@link PlannerActor} actor runs once every unit is folded: scores the candidate weights
 * from the merged statistics and the model's weights, selects the weights to prune, writes the masks under
 * {@code outDir} and describes them. Implementations must be deterministic: same statistics, same masks.
 */
@FunctionalInterface
public interface MaskPlanner {
  MaskPlan plan(SessionConfig session, List<LayerPartition> partitions, SessionAccumulators store, ModelRuntime model,
      Path outDir) throws Exception;
}
