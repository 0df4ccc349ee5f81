package io.pacedrl.learning;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pacedrl.policy.Transformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Objects;
import java.util.List;
import java.util.ArrayList;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Every hyperparameter of a training run, each under a named key (the JSON/YAML name, kebab
 * case). Defaults are the paper's where it gives one (β 0.05, τ 0.5, G 8, buffer 128, K_add 64,
 * temperature 1, ε 0.2, β_F 15); the rest are chosen for the small policy on two cores.
 *
 * @param method                which method runs: {@link Method#keys()}
 * @param steps                 updates in the run (at most, with a rollout budget)
 * @param rolloutBudget         rollouts the run may consume, 0 for no budget: the run ends after the
 *                              update that reaches it. Methods compare at equal budgets this way, since
 *                              dynamic sampling spends more rollouts on an update than the others
 * @param promptsPerStep        B: prompts per update (groups in the batch)
 * @param groupSize             G: rollouts per prompt
 * @param temperature           sampling temperature (scoring uses the same)
 * @param maxNewTokens          cap on response tokens
 * @param policyLearningRate    AdamW rate of the policy
 * @param policyWarmupSteps     steps over which the policy's rate rises linearly from 0: Z_φ starts
 *                              untrained, and until it fits, trajectory balance would hand its error to
 *                              the policy
 * @param partitionLearningRate AdamW rate of Z_φ
 * @param partitionFitSteps     Z_φ-only steps on each batch before the joint step (trajectory balance):
 *                              the scheduler picks the prompts whose p̂ is near τ, which are also those
 *                              it overestimates most, and whatever error log Z still has when the
 *                              policy steps is pushed into the policy
 * @param partitionMemory       earlier updates whose fresh trajectories Z_φ's fit steps fit again, with the
 *                              targets computed when they were fresh: one batch of 32 prompts, three
 *                              quarters of them chosen near τ, is too little and too narrow a sample to
 *                              fit an estimate of the whole pool from; 0 fits the fresh batch alone
 * @param partitionCopyEvery    updates between the copies of Z_φ that p̂ is ranked with ({@link PartitionEnsemble}); 0 keeps none
 * @param partitionCopies       copies of Z_φ kept, the most recent: a prompt's p̂ is Z_φ now's value at the rank the
 *                              mean log Z of Z_φ now and its copies gives it among the prompts scored together, because
 *                              each version's error on prompts its fit has not seen differs; 0 is Z_φ now alone
 * @param beta                  trajectory balance β (p̂ = clip(β·log Z, 0, 1))
 * @param tau                   the scheduler's target accuracy τ
 * @param selectionCandidates   prompts scored for each PACED batch: every free prompt when there are
 *                              at most this many (the paper's setting: the whole pool is ranked), else
 *                              this many drawn uniformly from the free ones, of which the B nearest τ
 *                              are taken. The default covers the default pool; for a large pool choose
 *                              it by the scheduler's budget (scoring costs about 0.07 MFLOP a prompt) and
 *                              by how rare prompts near τ are: among C uniform candidates, the best of a
 *                              share q of the pool is expected about C·q times
 * @param exploreShare          share of each PACED batch drawn uniformly from its candidates instead of nearest
 *                              τ, rounded down to whole prompts: Z_φ learns only from the prompts scheduled,
 *                              and chosen by |p̂ − τ| alone those all sit where it already says τ, so its
 *                              estimate of the rest of the pool would never be corrected. 0 is the paper's rule
 * @param replayCapacity        C: replay buffer capacity
 * @param replayAdd             K_add: most trajectories added per step
 * @param replaySize            R: replayed trajectories mixed into each update
 * @param replayOldPolicy       π_old of a replayed trajectory: the learner's pre-update policy
 *                              ({@code recomputed}) or the recorded behaviour ({@code recorded}, ablation)
 * @param freshOldPolicy        π_old of a fresh trajectory: the behaviour log-probs its generator recorded
 *                              ({@code recorded}: p̂ then estimates the generator's accuracy) or the
 *                              learner's pre-update policy ({@code recomputed}: the learner's)
 * @param replayPriority        buffered priorities recomputed against the current p̂ before each draw
 *                              ({@code current}) or kept as added ({@code recorded}, ablation)
 * @param clipEpsilon           ε of GRPO's ratio clip and FlowRL's weight clip
 * @param klCoefficient         GRPO's KL-to-π_ref coefficient (k3 estimator)
 * @param flowrlBeta            β_F: FlowRL's reward scale
 * @param oversample            dynamic sampling: prompts drawn per missing group
 * @param maxSamplingRounds     dynamic sampling: draws before a batch is used as it is
 * @param partitionHidden       Z_φ's hidden width
 * @param partitionDropout      Z_φ's dropout while training
 * @param partitionEmbedding    e(x), Z_φ's input, from π_ref's final hidden states over the prompt: {@code mean} (the
 *                              design's), {@code last} (the last token's) or {@code mean-and-last}
 * @param partitionInput        what Z_φ reads of e(x): {@code standardized} (each dimension centred and scaled by
 *                              the pool's mean and deviation) or {@code raw}
 * @param initialPHat           where every prompt's p̂ starts (Z_φ's output bias is this/β)
 * @param evalEvery             steps between held-out evaluations
 * @param evalPrompts           held-out prompts evaluated
 * @param evalSamples           samples per held-out prompt in the periodic evaluations
 * @param finalSamples          samples per held-out prompt at the end (pass@k for k up to this)
 * @param estimatorWarmupSteps  steps before p̂'s correlation with observed accuracy is counted
 * @param probePrompts          pool prompts drawn uniformly once, whose p̂ is checked against fresh
 *                              samples at every evaluation
 * @param probeSamples          samples per probe prompt: the observed accuracy p̂ is compared with (64
 *                              puts its standard error at ≤ 0.0625 and shows a prompt solved one
 *                              time in 20 as solved 96 % of the time, where 16 would 56 %)
 * @param lookAhead             pipeline: batches the scheduler may run ahead of the learner's newest
 *                              version (1 is lock-step: batch b waits for version b)
 * @param maxStaleness          pipeline: the learner drops groups sampled more than this many versions
 *                              before its update (within it, every loss corrects with the recorded
 *                              behaviour log-probs)
 * @param groupTimeoutSeconds   pipeline: stream time after which a scheduled prompt whose group has not
 *                              fully come back (a generator died, a rollout was dead-lettered) is released
 * @param accuracyEma           pipeline: weight of the newest group in a prompt's moving accuracy
 * @param seed                  seed of prompt sampling, rollouts, replay draws, Z_φ and dropout
 */
public record TrainingConfig(
        Method method, int steps, long rolloutBudget, int promptsPerStep, int groupSize, double temperature, int maxNewTokens,
        double policyLearningRate, int policyWarmupSteps, double partitionLearningRate, int partitionFitSteps, int partitionMemory,
        int partitionCopyEvery, int partitionCopies, double beta,
        double tau, int selectionCandidates, double exploreShare, int replayCapacity,
        int replayAdd, int replaySize, ReplayRules.OldPolicy replayOldPolicy, ReplayRules.OldPolicy freshOldPolicy,
        ReplayRules.Priority replayPriority,
        double clipEpsilon, double klCoefficient, double flowrlBeta, double oversample,
        int maxSamplingRounds, int partitionHidden, double partitionDropout, Transformer.Pooling partitionEmbedding,
        PartitionInput partitionInput, double initialPHat, int evalEvery,
        int evalPrompts, int evalSamples, int finalSamples, int estimatorWarmupSteps, int probePrompts, int probeSamples, int lookAhead,
        int maxStaleness, int groupTimeoutSeconds, double accuracyEma, long seed) {

    private static final ObjectMapper KEYS = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            // Enums without @JsonValue (the policy module's) are keyed by toString.
            .enable(SerializationFeature.WRITE_ENUMS_USING_TO_STRING)
            .enable(DeserializationFeature.READ_ENUMS_USING_TO_STRING);

    public TrainingConfig {
        // Each key named on its own: a compact constructor's `this` has no fields assigned yet.
        if (method == null) {
            throw new IllegalArgumentException("method must be one of " + Method.keys());
        }
        if (partitionEmbedding == null) {
            throw new IllegalArgumentException("partition-embedding must be one of " + Arrays.toString(Transformer.Pooling.values()));
        }
        if (partitionInput == null) {
            throw new IllegalArgumentException("partition-input must be one of " + Arrays.toString(PartitionInput.values()));
        }
        if (replayOldPolicy == null || freshOldPolicy == null) {
            throw new IllegalArgumentException((replayOldPolicy == null ? "replay" : "fresh") + "-old-policy must be recomputed or recorded");
        }
        if (replayPriority == null) {
            throw new IllegalArgumentException("replay-priority must be current or recorded");
        }
        atLeast("steps", steps, 1);
        if (rolloutBudget < 0) {
            throw new IllegalArgumentException("rollout-budget must be ≥ 0 (0: no budget), got " + rolloutBudget);
        }
        atLeast("prompts-per-step", promptsPerStep, 1);
        atLeast("group-size", groupSize, 2);
        atLeast("max-new-tokens", maxNewTokens, 1);
        atLeast("policy-warmup-steps", policyWarmupSteps, 0);
        atLeast("partition-fit-steps", partitionFitSteps, 0);
        atLeast("selection-candidates", selectionCandidates, promptsPerStep);
        atLeast("replay-capacity", replayCapacity, 1);
        atLeast("replay-add", replayAdd, 0);
        atLeast("replay-size", replaySize, 0);
        atLeast("partition-memory", partitionMemory, 0);
        atLeast("partition-copy-every", partitionCopyEvery, 0);
        atLeast("partition-copies", partitionCopies, 0);
        if (partitionCopies > 0 && partitionCopyEvery == 0) {
            throw new IllegalArgumentException("partition-copies = " + partitionCopies + " needs partition-copy-every ≥ 1 (updates between copies)");
        }
        atLeast("max-sampling-rounds", maxSamplingRounds, 1);
        atLeast("partition-hidden", partitionHidden, 1);
        atLeast("eval-every", evalEvery, 1);
        atLeast("eval-prompts", evalPrompts, 1);
        atLeast("eval-samples", evalSamples, 1);
        atLeast("final-samples", finalSamples, 1);
        atLeast("estimator-warmup-steps", estimatorWarmupSteps, 0);
        atLeast("probe-prompts", probePrompts, 3);
        atLeast("probe-samples", probeSamples, 1);
        atLeast("look-ahead", lookAhead, 1);
        atLeast("max-staleness", maxStaleness, 0);
        atLeast("group-timeout-seconds", groupTimeoutSeconds, 1);
        within("accuracy-ema", accuracyEma, 0.001, 1);
        positive("temperature", temperature);
        positive("policy-learning-rate", policyLearningRate);
        positive("partition-learning-rate", partitionLearningRate);
        positive("beta", beta);
        positive("flowrl-beta", flowrlBeta);
        within("tau", tau, 0, 1);
        within("explore-share", exploreShare, 0, 1);
        within("initial-p-hat", initialPHat, 0, 1);
        within("partition-dropout", partitionDropout, 0, 0.99);
        within("clip-epsilon", clipEpsilon, 0.001, 0.999);
        within("kl-coefficient", klCoefficient, 0, Double.MAX_VALUE);
        within("oversample", oversample, 1, Double.MAX_VALUE);
    }

    /** The defaults: PACED-RL on the small model. */
    public static TrainingConfig defaults() {
        return new TrainingConfig(Method.PACED, 200, 0, 32, 8, 1.0, 24, 2e-4, 10, 3e-3, 8, 16, 20, 4, 0.05, 0.5, 4096, 0.25, 128, 64, 64,
                ReplayRules.OldPolicy.RECOMPUTED, ReplayRules.OldPolicy.RECORDED, ReplayRules.Priority.CURRENT, 0.2, 0.0,
                15.0, 2.0, 4, 128, 0.3, Transformer.Pooling.MEAN, PartitionInput.STANDARDIZED, 0.5, 20, 256, 4, 16, 20, 128, 64, 2, 4, 300, 0.3, 1);
    }

    /** Prompts of each PACED batch drawn uniformly: {@code explore-share} of B, rounded down. */
    public int explorePerBatch() {
        // + 1e-9: a share such as 0.3 of 10 is 2.999… in binary.
        return (int) Math.floor(promptsPerStep * exploreShare + 1e-9);
    }

    /** Whether a run that has made {@code updates} updates and consumed {@code rollouts} rollouts is done. */
    public boolean finished(long updates, double rollouts) {
        return updates >= steps || (rolloutBudget > 0 && rollouts >= rolloutBudget);
    }

    /**
     * The defaults, then the keys of {@code file} (YAML or JSON; none if null), then {@code overrides}:
     * how every command and service reads a run's configuration. A missing file, an unknown key or a
     * bad value is an error naming it.
     */
    public static TrainingConfig load(Path file, Map<String, ?> overrides) throws IOException {
        return load(Map.of(), file, overrides);
    }

    /** As {@link #load(Path, Map)}, with a command's own defaults {@code base} applied before the file. */
    public static TrainingConfig load(Map<String, ?> base, Path file, Map<String, ?> overrides) throws IOException {
        Map<String, Object> keys = new LinkedHashMap<>(base);
        if (file != null) {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("config file " + file + " does not exist");
            }
            Map<String, Object> read = new ObjectMapper(new YAMLFactory()).readValue(file.toFile(),
                    new TypeReference<Map<String, Object>>() {});
            if (read != null) {
                keys.putAll(read);
            }
        }
        keys.putAll(overrides);
        return defaults().with(keys);
    }

    /**
     * This config with the given keys replaced, values as strings or numbers: how files and
     * {@code --set key=value} override it. An unknown key or a bad value is an error naming it.
     */
    public TrainingConfig with(Map<String, ?> overrides) {
        Map<String, Object> merged = asKeys();
        for (Map.Entry<String, ?> entry : overrides.entrySet()) {
            if (!merged.containsKey(entry.getKey())) {
                throw new IllegalArgumentException("unknown training key '" + entry.getKey() + "'; the keys are "
                        + String.join(", ", merged.keySet()));
            }
            merged.put(entry.getKey(), entry.getValue());
        }
        try {
            return KEYS.convertValue(merged, TrainingConfig.class);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(explain(e), e);
        }
    }

    /** Every key and its value, in declaration order. */
    public Map<String, Object> asKeys() {
        return KEYS.convertValue(this, KEYS.getTypeFactory().constructMapType(LinkedHashMap.class, String.class, Object.class));
    }

    /** The keys whose values differ in {@code other}, as "key: this → other", in declaration order. */
    public List<String> differences(TrainingConfig other) {
        Map<String, Object> mine = asKeys();
        Map<String, Object> theirs = other.asKeys();
        List<String> out = new ArrayList<>();
        mine.forEach((key, value) -> {
            if (!Objects.equals(value, theirs.get(key))) {
                out.add(key + ": " + value + " → " + theirs.get(key));
            }
        });
        return out;
    }

    /** Every key and its value as one JSON object: how a run records its configuration on its topics. */
    public String toJson() {
        try {
            return KEYS.writeValueAsString(asKeys());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The configuration {@link #toJson} wrote; an unknown key or a bad value is an error naming it. */
    public static TrainingConfig fromJson(String json) {
        try {
            Map<String, Object> keys = KEYS.readValue(json, KEYS.getTypeFactory().constructMapType(LinkedHashMap.class, String.class,
                    Object.class));
            // A run recorded before the key existed explored nothing: every batch was nearest τ.
            keys.putIfAbsent("explore-share", 0.0);
            // … and fitted Z_φ on the fresh batch alone.
            keys.putIfAbsent("partition-memory", 0);
            // … and scored with Z_φ now alone.
            keys.putIfAbsent("partition-copy-every", 0);
            keys.putIfAbsent("partition-copies", 0);
            return defaults().with(keys);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("a recorded configuration is not JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** The key at fault and why, from a Jackson binding error. */
    private static String explain(IllegalArgumentException e) {
        Throwable cause = e;
        while (cause != null && !(cause instanceof JsonMappingException)) {
            cause = cause.getCause();
        }
        if (cause instanceof JsonMappingException mapping) {
            Throwable root = mapping;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            String key = mapping.getPath().stream().map(JsonMappingException.Reference::getFieldName)
                    .filter(name -> name != null).collect(Collectors.joining("."));
            if (root instanceof IllegalArgumentException && root != mapping && !(root instanceof UnrecognizedPropertyException)) {
                // A value's own check says what is wrong with it; the key it was given for is known only here.
                return root.getMessage().startsWith("must be ") ? key + " " + root.getMessage() : root.getMessage();
            }
            return "training key '" + key + "': " + mapping.getOriginalMessage().split("\n")[0];
        }
        return e.getMessage();
    }

    private static void atLeast(String key, int value, int minimum) {
        if (value < minimum) {
            throw new IllegalArgumentException(key + " must be ≥ " + minimum + ", got " + value);
        }
    }

    private static void positive(String key, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(key + " must be > 0, got " + value);
        }
    }

    private static void within(String key, double value, double low, double high) {
        if (!(value >= low && value <= high)) {
            throw new IllegalArgumentException(key + " must be in [" + low + ", " + high + "], got " + value);
        }
    }
}
