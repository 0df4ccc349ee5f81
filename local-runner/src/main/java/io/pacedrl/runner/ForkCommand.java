package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pacedrl.learner.ForkStart;
import io.pacedrl.learner.PoolTopic;
import io.pacedrl.learner.Reproduction;
import io.pacedrl.learner.RunRecord;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A new run from version k of a recorded one: the parent's learner state at k, reproduced from its
 * record and checked against it (weights, optimisers, Z_φ, hence its p̂), and its replay buffer as the
 * synchronous rule builds it from the parent's batches; the configuration with the keys changed;
 * its own run id and topics; its parent recorded on its first version's record, in fork.yaml and in
 * its report. Then it trains like {@code train}, from batch k on. On the embedded platform the
 * parent's broker data is copied into the fork's directory, so the fork holds its parent's record
 * (and can be reproduced, resumed and exported) without touching the parent's directory.
 */
@Command(name = "fork", mixinStandardHelpOptions = true,
        description = "Start a new run from version k of a recorded one, with changed keys (--set), its own run id and topics.")
final class ForkCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platform;

    @Option(names = "--from", required = true, paramLabel = "RUN", description = "The recorded run to fork.")
    String parentId;

    @Option(names = "--from-dir", paramLabel = "DIR", description = "On the embedded platform, the parent's directory (its broker "
            + "data in DIR/kafka). Default: runs/<RUN>.")
    Path parentDir;

    @Option(names = "--at", required = true, paramLabel = "VERSION", description = "The parent's version the fork starts from.")
    long at;

    @Option(names = "--run-id", required = true, paramLabel = "ID", description = "The fork's run id: its topics' prefix and, "
            + "unless --run-dir says otherwise, its directory runs/<ID>.")
    String runId;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Change one training key from the parent's; repeatable.")
    Map<String, String> set = new LinkedHashMap<>();

    @Mixin
    PipelineOptions pipeline;

    @Spec
    CommandSpec spec;

    /** What the fork takes from its parent, read and checked before anything of the fork is made. */
    private record Origin(RunRecord parent, PolicyLearner.State state, PoolTopic.Pool pool, List<ReplaySeed> replay,
            long rolloutsLearned, TrainingConfig config, String parentRunId, String weightsSha256) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        platform.validate();
        try {
            Topics.checkPrefix(runId);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--run-id: " + e.getMessage());
        }
        pipeline.validate();
        Path runDir = platform.run.runDirOrNamed(runId);
        Path from = parentDir != null ? parentDir : Path.of("runs", parentId);
        if (platform.embedded() && !Files.isDirectory(from.resolve("kafka"))) {
            throw new ParameterException(spec.commandLine(), "--from " + parentId + ": " + from + " holds no embedded broker data; give "
                    + "the run's directory with --from-dir, or --bootstrap-servers the cluster it ran on");
        }
        if (Files.isDirectory(runDir) && !isEmpty(runDir)) {
            throw new ParameterException(spec.commandLine(), "--run-id " + runId + ": " + runDir + " is not empty; a fork starts in a "
                    + "new directory");
        }
        Torch.configure(1); // the learner's thread count: reproduction must sum in its order

        Origin origin;
        try (Platform cluster = platform.embedded() ? Platform.embedded(from.resolve("kafka")) : platform.openAt(null)) {
            origin = origin(out, cluster);
        }
        if (origin == null) {
            return 1;
        }
        if (platform.embedded()) {
            copyTree(from.resolve("kafka"), runDir.resolve("kafka"));
        }
        Files.createDirectories(runDir);
        ForkStart.Parent parent = new ForkStart.Parent(origin.parentRunId(), at, origin.weightsSha256());
        ForkStart.write(runDir.resolve("checkpoints"), origin.parent().reference(), origin.state(), parent,
                origin.config().method().key(), origin.config().method().estimatesAccuracy(), origin.rolloutsLearned(),
                ForkStart.promptsLearned(origin.parent(), at));
        Map<String, Object> forkFile = new LinkedHashMap<>();
        Map<String, Object> parentKeys = new LinkedHashMap<>();
        parentKeys.put("run-id", parent.runId());
        parentKeys.put("version", at);
        parentKeys.put("weights-sha256", parent.weightsSha256());
        forkFile.put("parent", parentKeys);
        forkFile.put("changed", origin.parent().config().differences(origin.config()));
        new ObjectMapper(new YAMLFactory()).writeValue(runDir.resolve("fork.yaml").toFile(), forkFile);

        String id = platform.topicPrefix + runId;
        TrainingRun.Settings settings = new TrainingRun.Settings(origin.config(), pipeline.sync, pipeline.generators, id, runDir,
                runDir.resolve("checkpoints").resolve("reference.weights"), origin.pool().train(), origin.pool().heldOut(),
                pipeline.stall(), Set.of());
        TrainingConfig effective = settings.effectiveConfig();
        out.printf("run        %s: %s, %s (look-ahead %d), updates %d–%d of %d prompts × %d rollouts, pool %,d, %d held-out%n", id,
                effective.method(), effective.lookAhead() == 1 ? "lock-step" : "asynchronous", effective.lookAhead(), at + 1, effective.steps(),
                effective.promptsPerStep(), effective.groupSize(), origin.pool().train().size(),
                Math.min(effective.evalPrompts(), origin.pool().heldOut().size()));
        TrainingRun.Result result;
        try (Platform cluster = platform.openAt(runDir)) {
            out.printf("cluster    %s, registry %s%n", cluster.bootstrapServers(), cluster.schemaRegistryUrl());
            String prefix = id + ".";
            if (!RunRecord.versions(cluster.bootstrapServers(), cluster.schemaRegistryUrl(), prefix, TrainingRun.MODEL_ID).isEmpty()) {
                throw new IllegalStateException("run '" + id + "' is already recorded on " + cluster.bootstrapServers()
                        + "; a fork needs a run id of its own");
            }
            Topics topics = new Topics(prefix, new SchemaRegistryClient(cluster.schemaRegistryUrl()));
            cluster.ensureTopics(topics.all());
            PoolLoader.load(cluster.bootstrapServers(), topics, new PromptPool(origin.pool().train(), origin.pool().heldOut()).all());
            writeReplaySeed(cluster, topics, origin.replay());
            out.flush();
            try (ProgressBar bar = ProgressBars.create("fork " + effective.method(), effective.steps())) {
                bar.stepTo(at);
                result = TrainingRun.run(cluster, settings, at, progress -> {
                    bar.stepTo(progress.version());
                    bar.setExtraMessage(String.format("%,.0f rollouts, held-out %.3f, p̂ ρ %.2f", progress.rolloutsConsumed(),
                            progress.heldOutPassAt1(), progress.probeSpearman()));
                }, (t, queries) -> { });
            }
        }
        Map<String, String> summary = new LinkedHashMap<>();
        summary.put("forked", String.format("from run %s at version %d (weights %s), %s", parent.runId(), at,
                parent.weightsSha256().substring(0, 12), changes(origin)));
        summary.putAll(TrainCommand.summary(result));
        summary.forEach((key, value) -> out.printf("%-10s %s%n", key, value));
        Path report = TrainCommand.write(runDir, result, summary);
        out.printf("files      %s, %s, %s, %s%n", runDir.resolve("fork.yaml"), runDir.resolve("config.yaml"),
                runDir.resolve(TrainCommand.METRICS), report);
        return 0;
    }

    /**
     * The parent's record, checked by reproducing it up to the fork's version, and everything the
     * fork takes from it; null (after saying why) if the record does not reproduce.
     */
    private Origin origin(PrintWriter out, Platform cluster) throws Exception {
        String prefix = platform.recordedRun(cluster, parentId);
        RunRecord parent = RunRecord.read(cluster.bootstrapServers(), cluster.schemaRegistryUrl(), prefix, TrainingRun.MODEL_ID);
        if (at < 0 || at > parent.latestVersion()) {
            throw new ParameterException(spec.commandLine(), "--at " + at + ": run " + parentId + " records versions 0–"
                    + parent.latestVersion());
        }
        TrainingConfig config;
        try {
            config = parent.config().with(set);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--set: " + e.getMessage());
        }
        if (config.method() != parent.config().method() || config.partitionHidden() != parent.config().partitionHidden()) {
            throw new ParameterException(spec.commandLine(), "a fork keeps the parent's method and partition-hidden (" + parent.config()
                    .method().key() + ", " + parent.config().partitionHidden() + "): its learner state is that model's; train a new run"
                    + " for another");
        }
        if (config.steps() <= at) {
            throw new ParameterException(spec.commandLine(), "steps = " + config.steps() + " leaves nothing to train after version " + at
                    + "; --set steps=N with N > " + at);
        }
        out.printf("parent     run %s: %s, versions 0–%d recorded on %s; forking at version %d%n", parent.runId(),
                parent.config().method(), parent.latestVersion(), cluster.bootstrapServers(), at);
        out.flush();
        long start = System.nanoTime();
        List<Reproduction.Check> mismatched = new ArrayList<>();
        PolicyLearner.State state;
        ForkStart.ReplayRebuild replay = new ForkStart.ReplayRebuild(parent, at, config);
        try (ProgressBar bar = ProgressBars.create("reproduce " + parent.runId(), at + 1)) {
            state = Reproduction.stateAt(parent, at, recomputed -> {
                bar.step();
                replay.accept(recomputed);
                if (!recomputed.check().matches()) {
                    mismatched.add(recomputed.check());
                }
            });
        }
        if (!mismatched.isEmpty()) {
            Reproduction.Check first = mismatched.get(0);
            out.printf("refused    the parent's record does not reproduce: version %d's %s differ from it (paced-rl reproduce says "
                    + "more); a fork would not start from the parent's state%n", first.version(), first.differences());
            return null;
        }
        out.printf("reproduced versions 0–%d of %s match their record (%.1f s): the fork starts from that state%n", at, parent.runId(),
                (System.nanoTime() - start) / 1e9);
        List<ReplaySeed> seed = config.method().replay() ? replay.seed() : List.of();
        if (config.method().replay()) {
            out.printf("replay     %d trajectories in the buffer carried over%n", seed.size());
        }
        PoolTopic.Pool pool = PoolTopic.read(cluster.bootstrapServers(), new Topics(prefix,
                new SchemaRegistryClient(cluster.schemaRegistryUrl())), config.seed());
        return new Origin(parent, state, pool, seed, ForkStart.rolloutsLearned(parent, at), config, parent.runId(),
                parent.version(at).getWeightsSha256());
    }

    private static String changes(Origin origin) {
        List<String> changed = origin.parent().config().differences(origin.config());
        return changed.isEmpty() ? "no key changed" : "changed " + String.join(", ", changed);
    }

    /** The fork's starting replay buffer onto its replay-seed topic, before any of its services starts. */
    private static void writeReplaySeed(Platform cluster, Topics topics, List<ReplaySeed> seed) {
        if (seed.isEmpty()) {
            return;
        }
        try (KafkaProducer<String, ReplaySeed> producer = new KafkaProducer<>(ClientSettings.kafka(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers(), ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true)), new StringSerializer(), topics.replaySeed.valueSerde().serializer())) {
            for (ReplaySeed entry : seed) {
                producer.send(new ProducerRecord<>(topics.replaySeed.name(), entry.getTrajectory().getRollout().getRolloutId(), entry));
            }
            producer.flush();
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        }
    }

    private static void copyTree(Path source, Path target) throws IOException {
        try (Stream<Path> all = Files.walk(source)) {
            all.forEach(path -> {
                try {
                    Path to = target.resolve(source.relativize(path).toString());
                    if (Files.isDirectory(path)) {
                        Files.createDirectories(to);
                    } else {
                        Files.copy(path, to, StandardCopyOption.COPY_ATTRIBUTES);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
