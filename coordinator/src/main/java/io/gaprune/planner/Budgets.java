package io.gaprune.planner;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Exact integer budgets from a sparsity (pure arithmetic, no scores). */
public final class Budgets {

  private Budgets() {}

  /** Rejects a sparsity outside [0, 1] (or NaN). */
  public static void checkSparsity(double sparsity) {
    if (!(sparsity >= 0 && sparsity <= 1)) {
      throw new IllegalArgumentException("sparsity must be in [0, 1], got " + sparsity);
    }
  }

  /**
   * {@code floor(ratio × n)} with the ratio read as the decimal it prints as, so that 0.29 of 100 is 29 (the
   * binary double 0.29 is a hair below, and {@code (long) (0.29 * 100)} gives 28).
   */
  public static long floorOf(double ratio, long n) {
    return new BigDecimal(Double.toString(ratio)).multiply(BigDecimal.valueOf(n))
        .setScale(0, RoundingMode.FLOOR).longValueExact();
  }

  /** The global budget: exactly {@code floor(sparsity × n)}. */
  public static long global(double sparsity, long n) {
    checkSparsity(sparsity);
    return floorOf(sparsity, n);
  }

  /**
   * Per-group budgets proportional to the group sizes: ratio {@code ρ = clamp(sparsity, ρ_min, ρ_max)} (no
   * clamp at sparsity 0 or 1, which ask for nothing or everything), {@code k_g = floor(ρ·n_g)}, and the
   * rounding deficit {@code floor(ρ·Σn_g) − Σk_g} (fewer than one weight per group) given one by one to the
   * largest groups, ties to the earlier group, as the reference does. The sum is {@code floor(ρ·Σn_g)}.
   */
  public static long[] uniform(double sparsity, long[] sizes, double rhoMin, double rhoMax) {
    checkSparsity(sparsity);
    if (!(rhoMin >= 0 && rhoMin <= rhoMax && rhoMax <= 1)) {
      throw new IllegalArgumentException("need 0 ≤ ρ_min ≤ ρ_max ≤ 1, got ρ_min " + rhoMin + ", ρ_max " + rhoMax);
    }
    int g = sizes.length;
    var k = new long[g];
    if (sparsity == 0) {
      return k;
    }
    if (sparsity == 1) {
      return sizes.clone();
    }
    double rho = Math.max(rhoMin, Math.min(rhoMax, sparsity));
    long total = 0;
    long assigned = 0;
    for (int i = 0; i < g; i++) {
      k[i] = floorOf(rho, sizes[i]);
      assigned += k[i];
      total += sizes[i];
    }
    long deficit = floorOf(rho, total) - assigned;
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < g; i++) {
      order.add(i);
    }
    order.sort(Comparator.<Integer>comparingLong(i -> -sizes[i]).thenComparingInt(i -> i));
    for (int i : order) {
      if (deficit == 0) {
        break;
      }
      if (k[i] < sizes[i]) {
        k[i]++;
        deficit--;
      }
    }
    return k;
  }

  /**
   * {@code k} split over groups in proportion to their sizes: {@code floor(k·n_i/Σn)} each, the rounding
   * deficit (fewer than one weight per group) one by one to the largest groups, ties to the earlier, as
   * {@link #uniform} does. The parts sum to {@code k}.
   */
  public static long[] apportion(long k, long[] sizes) {
    long total = 0;
    for (long n : sizes) {
      total += n;
    }
    if (k < 0 || k > total) {
      throw new IllegalArgumentException("cannot prune " + k + " of " + total + " weights");
    }
    var parts = new long[sizes.length];
    if (total == 0) {
      return parts;
    }
    long deficit = k;
    for (int i = 0; i < sizes.length; i++) {
      // k·n_i can pass 2^63 on a large model: exact in BigInteger
      parts[i] = BigInteger.valueOf(k).multiply(BigInteger.valueOf(sizes[i])).divide(BigInteger.valueOf(total))
          .longValueExact();
      deficit -= parts[i];
    }
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < sizes.length; i++) {
      order.add(i);
    }
    order.sort(Comparator.<Integer>comparingLong(i -> -sizes[i]).thenComparingInt(i -> i));
    for (int i = 0; deficit > 0; i = (i + 1) % sizes.length) {
      int g = order.get(i);
      if (parts[g] < sizes[g]) {
        parts[g]++;
        deficit--;
      }
    }
    return parts;
  }

  /** The ratio {@link #uniform} uses for a sparsity. */
  public static double uniformRatio(double sparsity, double rhoMin, double rhoMax) {
    return sparsity == 0 || sparsity == 1 ? sparsity : Math.max(rhoMin, Math.min(rhoMax, sparsity));
  }
}
