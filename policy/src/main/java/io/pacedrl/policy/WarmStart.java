package io.pacedrl.policy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.tasks.Verifiers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * The supervised warm start that makes the reference policy π_ref: next-token training on
 * generated demonstrations (fresh problems from the task families, never a held-out text), so
 * the policy formats answers and solves part of the pool before RL starts. The result is cached
 * on disk under a hash of everything that determines it, so a second run with the same
 * configuration loads the weights instead of training.
 */
public final class WarmStart {
    /** Bumped when training or evaluation changes in a way that changes its result. */
    private static final int RECIPE_VERSION = 3;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * @param model            the architecture
     * @param suite            the task suite (its held-out texts are never trained on)
     * @param steps            optimiser steps
     * @param batchSize        demonstrations per step
     * @param learningRate     peak learning rate (linear warm-up, cosine decay to a tenth)
     * @param warmupSteps      warm-up steps
     * @param seed             weights, data order and dropout seed
     * @param evalPoolPrompts  training-pool prompts whose accuracy is measured for the histogram
     * @param samplesPerPrompt samples per evaluated prompt
     */
    public record Config(Transformer.Config model, TaskSuite.Config suite, int steps, int batchSize, float learningRate,
                         int warmupSteps, long seed, int evalPoolPrompts, int samplesPerPrompt) {

        public Config {
            // Each key named on its own (a compact constructor's `this` has no fields assigned yet).
            atLeast("steps", steps, 1);
            atLeast("batchSize", batchSize, 1);
            atLeast("warmupSteps", warmupSteps, 0);
            atLeast("evalPoolPrompts", evalPoolPrompts, 1);
            atLeast("samplesPerPrompt", samplesPerPrompt, 1);
            if (!(learningRate > 0)) {
                throw new IllegalArgumentException("learningRate must be > 0, got " + learningRate);
            }
        }

        private static void atLeast(String key, int value, int minimum) {
            if (value < minimum) {
                throw new IllegalArgumentException(key + " must be ≥ " + minimum + ", got " + value);
            }
        }

        /** The default warm start for the default task suite (about 4 minutes on 2 cores). */
        public static Config defaults() {
            return new Config(Transformer.Config.defaults(CharTokenizer.ASCII.vocabularySize()), TaskSuite.Config.DEFAULT,
                    3000, 64, 1e-3f, 100, 1, 512, 16);
        }

        /** A short hex hash of everything that determines the trained weights and their report. */
        public String hash() {
            String identity = "recipe " + RECIPE_VERSION + " vocabulary " + CharTokenizer.ASCII.version() + " " + this;
            return Weights.sha256(identity.getBytes(StandardCharsets.UTF_8)).substring(0, 16);
        }
    }

    /** Sampling used to evaluate: the RL behaviour setting (temperature 1, no truncation). */
    public static final Transformer.SamplingConfig EVALUATION_SAMPLING = new Transformer.SamplingConfig(1f, 1f, 24);

    /**
     * What the warm start produced.
     *
     * @param poolHistogram  training-pool prompts by number of correct samples out of n
     * @param heldOutByLevel held-out pass@1 by "family/level"
     * @param lossCurve      mean training loss per logged interval, with the step it ended at
     */
    public record Report(String configHash, String checksum, int steps, double trainSeconds, double tokensPerSecond,
                         double finalLoss, int samplesPerPrompt, int[] poolHistogram, double poolPassAt1,
                         double heldOutPassAt1, Map<String, Double> heldOutByLevel, List<double[]> lossCurve) {

        /** Share of the evaluated pool prompts with some but not all samples correct: where a group has a signal. */
        @JsonIgnore
        public double learnableShare() {
            int total = Arrays.stream(poolHistogram).sum();
            int partial = total - poolHistogram[0] - poolHistogram[poolHistogram.length - 1];
            return total == 0 ? 0 : partial / (double) total;
        }
    }

    /** A progress report while training. */
    public record Progress(int step, int steps, float loss, double tokensPerSecond) {}

    /** The trained weights and the report; {@code cached} when they were loaded, not trained. */
    public record Result(Path weights, Report report, boolean cached) {}

    private WarmStart() {}

    /**
     * Returns the cached warm start for {@code config} from {@code cacheDir}, or trains it,
     * evaluates it and stores both there.
     */
    public static Result obtain(Config config, Path cacheDir, Consumer<Progress> progress)
            throws IOException {
        Path weights = cacheDir.resolve("warmstart-" + config.hash() + ".weights");
        Path reportFile = cacheDir.resolve("warmstart-" + config.hash() + ".json");
        if (Files.exists(weights) && Files.exists(reportFile)) {
            Report report = JSON.readValue(reportFile.toFile(), Report.class);
            if (report.checksum().equals(Weights.sha256(Files.readAllBytes(weights)))) {
                return new Result(weights, report, true);
            }
        }
        Files.createDirectories(cacheDir);
        TaskSuite suite = TaskSuite.generate(config.suite());
        try (NDManager manager = NDManager.newBaseManager();
             Trained trained = train(manager, config, suite, progress)) {
            Report report = evaluate(trained, config, suite);
            Weights.save(trained.model(), weights);
            Path temporary = reportFile.resolveSibling(reportFile.getFileName() + ".tmp");
            JSON.writeValue(temporary.toFile(), report);
            Files.move(temporary, reportFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return new Result(weights, report, false);
        }
    }

    /** A trained model and the figures from its training loop that the report carries. */
    record Trained(Transformer model, double seconds, double tokensPerSecond, float finalLoss, List<double[]> lossCurve)
            implements AutoCloseable {
        @Override
        public void close() {
            model.close();
        }
    }

    /**
     * Trains a fresh model on demonstrations; the same config gives the same weights (the data,
     * the initialisation and dropout are all drawn from the seed).
     */
    static Trained train(NDManager manager, Config config, TaskSuite suite, Consumer<Progress> progress) {
        Engine.getInstance().setRandomSeed((int) config.seed());
        Transformer model = new Transformer(manager, config.model(), CharTokenizer.ASCII, config.seed());
        try (AdamW optimizer = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLearningRate(config.learningRate()))) {
            SupervisedStep training = new SupervisedStep(model, optimizer);
            DemonstrationBatches batches = new DemonstrationBatches(suite.demonstrations(config.seed() + 1),
                    model.tokenizer(), config.batchSize(), 16, config.seed());
            List<double[]> lossCurve = new ArrayList<>();
            int interval = Math.max(1, config.steps() / 100);
            double intervalLoss = 0;
            long tokens = 0;
            long start = System.nanoTime();
            float loss = Float.NaN;
            for (int step = 0; step < config.steps(); step++) {
                DemonstrationBatches.Batch batch = batches.next();
                float rate = SupervisedStep.learningRate(config.learningRate(), step, config.warmupSteps(), config.steps());
                loss = training.step(manager, batch.prompts(), batch.responses(), rate);
                tokens += batch.tokens();
                intervalLoss += loss;
                if ((step + 1) % interval == 0 || step + 1 == config.steps()) {
                    int count = (step % interval) + 1;
                    lossCurve.add(new double[] {step + 1, intervalLoss / count});
                    intervalLoss = 0;
                    double seconds = (System.nanoTime() - start) / 1e9;
                    progress.accept(new Progress(step + 1, config.steps(), loss, tokens / seconds));
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return new Trained(model, seconds, tokens / seconds, loss, lossCurve);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private static Report evaluate(Trained training, Config config, TaskSuite suite) {
        Transformer model = training.model();
        Verifiers verifiers = Verifiers.load();
        // A seeded uniform sample: the pool's start is not representative (easy levels run out of
        // distinct texts early in the generator's stream).
        List<TaskPrompt> shuffled = new ArrayList<>(suite.train());
        Collections.shuffle(shuffled, new Random(config.seed() + 4));
        List<TaskPrompt> pool = shuffled.subList(0, Math.min(config.evalPoolPrompts(), shuffled.size()));
        Evaluation.Result poolResult = Evaluation.run(model, pool, config.samplesPerPrompt(), EVALUATION_SAMPLING, 512,
                config.seed() + 2, verifiers);
        Evaluation.Result heldOut = Evaluation.run(model, suite.heldOut(), config.samplesPerPrompt(), EVALUATION_SAMPLING, 512,
                config.seed() + 3, verifiers);
        Map<String, Double> byLevel = new LinkedHashMap<>();
        suite.heldOut().stream().map(TaskPrompt::level).distinct().sorted().forEach(key -> {
            String[] parts = key.split("/");
            byLevel.put(key, heldOut.passAt1(parts[0], Integer.parseInt(parts[1])));
        });
        return new Report(config.hash(), model.checksum(), config.steps(), training.seconds(), training.tokensPerSecond(),
                training.finalLoss(), config.samplesPerPrompt(), poolResult.histogram(), poolResult.passAt1(),
                heldOut.passAt1(), byLevel, training.lossCurve());
    }
}
