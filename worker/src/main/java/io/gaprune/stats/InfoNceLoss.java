package io.gaprune.stats;

import ai.djl.ndarray.NDArray;
import io.gaprune.model.Scalars;
import io.gaprune.model.bert.BertEncoder;

/**
 * InfoNCE with in-batch and hard negatives, as the paper and the reference implementation (sentence-
 * transformers' {@code MultipleNegativesRankingLoss}) define it: for query i the candidates are every
 * positive and every hard negative of the batch, the logits are their cosine similarities times
 * {@link #SCALE}, the target is positive i; the loss is the mean cross-entropy over the queries.
 *
 * <p>A pure function of the three embedding arrays. The cosine is computed here (rows normalised with
 * {@code max(‖x‖, 1e-12)}) so the loss does not depend on whether the encoder already normalises. The
 * result is a scalar in the queries' manager and dtype.
 */
public final class InfoNceLoss {

  /** The logit scale (inverse temperature 1/0.05) of the paper and the reference. */
  public static final double SCALE = 20.0;

  private InfoNceLoss() {}

  /**
   * @param queries {@code [B, H]}
   * @param positives {@code [B, H]}, row i answers query i
   * @param negatives {@code [N, H]} hard negatives (N = B for triplets; any N ≥ 0 rows)
   * @return the mean loss, a scalar
   */
  public static NDArray loss(NDArray queries, NDArray positives, NDArray negatives) {
    long b = queries.getShape().get(0);
    if (queries.getShape().dimension() != 2 || !positives.getShape().equals(queries.getShape())
        || negatives.getShape().dimension() != 2 || negatives.getShape().get(1) != queries.getShape().get(1)) {
      throw new IllegalArgumentException("InfoNCE needs queries and positives [B, H] and negatives [N, H], got "
          + queries.getShape() + ", " + positives.getShape() + ", " + negatives.getShape());
    }
    if (b == 0) {
      throw new IllegalArgumentException("InfoNCE of an empty batch");
    }
    var candidates = BertEncoder.l2Normalize(positives.concat(negatives, 0)); // [B + N, H]
    var cosines = BertEncoder.l2Normalize(queries).matMul(candidates.transpose()); // [B, B + N]
    var logits = cosines.mul(Scalars.of(cosines, SCALE));
    var target = queries.getManager().eye((int) b, (int) candidates.getShape().get(0), 0, queries.getDataType());
    // cross-entropy on the diagonal: −log softmax(logits)[i, i], averaged over the queries
    var total = logits.logSoftmax(1).mul(target).sum().neg();
    return total.div(Scalars.of(total, b));
  }
}
