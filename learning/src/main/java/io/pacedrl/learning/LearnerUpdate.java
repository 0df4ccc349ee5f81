package io.pacedrl.learning;

import ai.djl.engine.Engine;
import io.pacedrl.learning.PolicyLearner.Group;
import io.pacedrl.learning.PolicyLearner.Trajectory;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One update as both learners run it, the synchronous reference and the learner service: the
 * engine seeded from (seed, version), so dropout masks follow from the run and not from the
 * process; the method's update on the fresh groups plus the replayed trajectories; and the step's
 * figures. No Kafka, no threads: the service feeds it batches and publishes what it returns.
 */
public final class LearnerUpdate {

    /**
     * The batch of update {@code version} → {@code version + 1}.
     *
     * @param estimates the p̂ each group was chosen with, by group (NaN where there was none)
     * @param onPolicy  whether every fresh trajectory was sampled by the policy as it is now (the
     *                  synchronous loop), which spares Z_φ's fit a forward pass
     */
    public record Batch(long version, List<Group> groups, double[] estimates, List<Trajectory> replayed, boolean onPolicy) {
        public Batch {
            if (estimates.length != groups.size()) {
                throw new IllegalArgumentException(estimates.length + " estimates for " + groups.size() + " groups");
            }
        }

        public List<Trajectory> fresh() {
            return groups.stream().flatMap(g -> g.trajectories().stream()).toList();
        }
    }

    /**
     * What an update did. {@code pHatSpearman} and {@code meanPHat} are NaN for methods without p̂ or
     * when a group came without its estimate; {@code informativeShare} counts groups whose rewards
     * differ (the only ones a group-relative loss learns from).
     */
    public record Figures(double loss, double gradientNorm, double betaKl, double pHatSpearman, double meanPHat, double meanReward,
            double informativeShare, int groups, int rollouts, int replayed) {

        /** The figures under their run-event names. */
        public Map<String, Double> asMetrics() {
            Map<String, Double> metrics = new LinkedHashMap<>();
            metrics.put(MetricNames.LOSS, loss);
            metrics.put(MetricNames.GRADIENT_NORM, gradientNorm);
            metrics.put(MetricNames.BETA_KL, betaKl);
            metrics.put(MetricNames.P_HAT_SPEARMAN, pHatSpearman);
            metrics.put(MetricNames.MEAN_P_HAT, meanPHat);
            metrics.put(MetricNames.MEAN_REWARD, meanReward);
            metrics.put(MetricNames.INFORMATIVE_SHARE, informativeShare);
            metrics.put(MetricNames.GROUPS, (double) groups);
            metrics.put(MetricNames.ROLLOUTS, (double) rollouts);
            metrics.put(MetricNames.REPLAYED, (double) replayed);
            return metrics;
        }
    }

    private LearnerUpdate() {}

    /** Updates {@code learner} on {@code batch}; an empty batch leaves it as it is. */
    public static Figures apply(PolicyLearner learner, Batch batch) {
        TrainingConfig config = learner.config();
        Engine.getInstance().setRandomSeed((int) (config.seed() * 1_000_003L + batch.version()));
        List<Trajectory> fresh = batch.fresh();
        PolicyLearner.UpdateResult update = fresh.isEmpty() && batch.replayed().isEmpty()
                ? new PolicyLearner.UpdateResult(Double.NaN, Double.NaN, Double.NaN)
                : learner.update((int) batch.version() + 1, batch.groups(), fresh, batch.replayed(), batch.onPolicy());
        int groups = batch.groups().size();
        double[] observed = new double[groups];
        int informative = 0;
        for (int g = 0; g < groups; g++) {
            Group group = batch.groups().get(g);
            observed[g] = group.correct() / (double) group.trajectories().size();
            informative += Arrays.stream(group.rewards()).distinct().count() > 1 ? 1 : 0;
        }
        boolean estimated = config.method().estimatesAccuracy() && groups >= 3
                && Arrays.stream(batch.estimates()).noneMatch(Double::isNaN);
        return new Figures(update.loss(), update.gradientNorm(), update.betaKl(),
                estimated ? RunMetrics.spearman(batch.estimates(), observed) : Double.NaN,
                estimated ? Arrays.stream(batch.estimates()).average().orElse(Double.NaN) : Double.NaN,
                fresh.isEmpty() ? Double.NaN : fresh.stream().mapToDouble(Trajectory::reward).average().orElse(Double.NaN),
                groups == 0 ? Double.NaN : informative / (double) groups, groups, fresh.size(), batch.replayed().size());
    }
}
