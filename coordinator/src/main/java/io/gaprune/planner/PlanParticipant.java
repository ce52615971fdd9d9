package io.gaprune.planner;

import java.io.IOException;
import java.util.List;

/**
 * One holder of part of a plan's candidate tensors (a contiguous run of them in the fixed order): it scores its
 * tensors and answers the planner's three questions. Local shares answer by calling the scorer ({@link PlanShare});
 * a merger entity answers for the tensors it owns, so no node needs the statistics of another's tensors.
 * All three must see the same scores every time they are asked.
 */
public interface PlanParticipant {

  /** The candidates this participant holds: a contiguous run of the layout's, in its order. */
  List<TensorMeta> tensors();

  /**
   * Feeds this participant's keys to one selection pass.
   *
   * @param fresh one empty accumulator per selection ({@link RadixSelector#newPass()}), null for the selections
   *     already resolved
   * @return the same accumulators, filled (null where {@code fresh} was null)
   */
  PassAccumulator[] pass(PassAccumulator[] fresh) throws IOException;

  /**
   * @param thresholdKeys per selection, the threshold key whose ties are to be counted
   * @return per selection, how many of this participant's keys equal the threshold key
   */
  long[] ties(long[] thresholdKeys) throws IOException;

  /**
   * Decides and writes this participant's masks: a weight is pruned when its key is below its selection's
   * threshold key, or equal to it while that selection's tie quota for this participant lasts (in the fixed
   * order).
   */
  Outcome masks(long[] thresholdKeys, long[] tieQuotas) throws IOException;

  /**
   * What a participant's mask pass counted.
   *
   * @param tensors per candidate tensor of the participant, in the fixed order: name and pruned weights
   * @param count scores seen
   * @param min lowest score
   * @param max highest score
   * @param sum sum of the scores
   * @param scoreHistogram level-0 histogram of the score keys (16-bit digits) for the quantiles
   * @param tiesLeft per selection, tie quota not used (0 when the participant saw the ties it was promised)
   */
  record Outcome(List<Pruned> tensors, long count, double min, double max, double sum, KeyHistogram scoreHistogram,
      long[] tiesLeft) {}

  /** A tensor's pruned weights. */
  record Pruned(String name, long pruned) {}
}
