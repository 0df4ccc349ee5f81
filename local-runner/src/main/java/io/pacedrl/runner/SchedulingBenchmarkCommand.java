package io.pacedrl.runner;

import ai.djl.ndarray.NDManager;
import io.pacedrl.learning.PartitionFunction;
import io.pacedrl.learning.SchedulingBenchmark;
import io.pacedrl.learning.TrainingConfig;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** Scheduling latency: batch selection over a large pool and scoring prompts through Z_φ. */
@Command(name = "scheduler", mixinStandardHelpOptions = true,
        description = "Batch selection over a large prompt pool and scoring prompts with Z_φ, timed.")
final class SchedulingBenchmarkCommand implements Callable<Integer> {
    @Mixin
    RunOptions run;

    @Option(names = "--pool-size", paramLabel = "N", description = "Prompts to select from (default: ${DEFAULT-VALUE}).")
    int poolSize = 1_000_000;

    @Option(names = "--batch", paramLabel = "N", description = "Prompts selected per call (default: ${DEFAULT-VALUE}).")
    int batch = 256;

    @Option(names = "--in-flight", paramLabel = "SHARE", description = "Share of the pool in flight, skipped (default: ${DEFAULT-VALUE}).")
    double inFlight = 0.01;

    @Option(names = "--repeats", paramLabel = "N", description = "Timed selections (default: ${DEFAULT-VALUE}).")
    int repeats = 50;

    @Option(names = "--score-sizes", paramLabel = "N", split = ",",
            description = "Numbers of prompts whose scoring with Z_φ is timed (default: 4096,1000000).")
    List<Integer> scoreSizes = List.of(4096, 1_000_000);

    @Option(names = "--partition-copies", paramLabel = "K",
            description = "Copies of Z_φ in the ranked scoring (default: 4, the partition-copies the trials used).")
    int copies = 4;

    @Mixin
    EngineOptions engine;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (poolSize < 1 || batch < 1 || repeats < 1 || !(inFlight >= 0 && inFlight < 1)
                || scoreSizes.stream().anyMatch(size -> size < 1) || copies < 1) {
            throw new ParameterException(spec.commandLine(), "--pool-size, --batch, --repeats, --score-sizes and --partition-copies "
                    + "must be ≥ 1 and --in-flight in [0, 1)");
        }
        PrintWriter out = spec.commandLine().getOut();
        engine.startEngine();
        TrainingConfig defaults = TrainingConfig.defaults();
        SchedulingBenchmark.Config config = new SchedulingBenchmark.Config(poolSize, batch, inFlight, repeats, scoreSizes, 128,
                new PartitionFunction.Config(defaults.partitionHidden(), 0f, 10), copies);
        out.printf("scheduling benchmark: pool %,d, batch %d, %.0f%% in flight, %d threads%n", poolSize, batch, 100 * inFlight, engine.threads);
        out.flush();
        SchedulingBenchmark.Result r;
        try (NDManager manager = NDManager.newBaseManager()) {
            r = SchedulingBenchmark.run(manager, config);
        }
        out.printf("scheduler set-up (rank ids once)  %8.1f ms%n", r.schedulerSetupMs());
        out.printf("difficulty selection              %8.2f ms median, %.2f ms worst (target < 50 ms)%n",
                r.difficultySelect().medianMs(), r.difficultySelect().maxMs());
        out.printf("uniform selection                 %8.2f ms median, %.2f ms worst%n", r.uniformSelect().medianMs(),
                r.uniformSelect().maxMs());
        for (int i = 0; i < r.scoreSizes().size(); i++) {
            out.printf("Z_φ scoring of %,9d prompts  %8.1f ms median, %.1f ms worst (Z_φ hidden %d)%n", r.scoreSizes().get(i),
                    r.scoring().get(i).medianMs(), r.scoring().get(i).maxMs(), defaults.partitionHidden());
            out.printf("  with %d copies, ranked          %8.1f ms median, %.1f ms worst%n", copies,
                    r.rankedScoring().get(i).medianMs(), r.rankedScoring().get(i).maxMs());
        }
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("config", config);
        results.put("threads", engine.threads);
        results.put("result", r);
        out.printf("figures                           %s%n", run.writeResults("bench-scheduler", "bench-scheduler.json", results));
        return 0;
    }
}
