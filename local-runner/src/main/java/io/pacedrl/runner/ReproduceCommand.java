package io.pacedrl.runner;

import io.pacedrl.learner.Reproduction;
import io.pacedrl.learner.RunRecord;
import io.pacedrl.policy.Torch;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Re-executes a recorded run's updates from its topics and checks every version's SHA-256: the
 * policy's weights, Z_φ and the optimisers' state; with {@code --scheduler}, also the scheduler's
 * decisions ({@link SchedulerCheck}). Reads the run's topics and writes none.
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
        description = "Recompute every version of a recorded run from its topics and compare each with its recorded SHA-256.")
final class ReproduceCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platform;

    @Option(names = "--run-id", paramLabel = "ID", description = "The run to reproduce. Default: the only run recorded on the cluster.")
    String runId;

    @Option(names = "--model-id", defaultValue = "policy", paramLabel = "ID", description = "The learner's model id. Default: ${DEFAULT-VALUE}.")
    String modelId;

    @Option(names = "--up-to", paramLabel = "VERSION", description = "Stop after this version. Default: the newest recorded.")
    Long upTo;

    @Option(names = "--threads", defaultValue = "1", paramLabel = "N",
            description = "PyTorch threads: as many as the learner used (train's: 1), or sums run in another order. Default: ${DEFAULT-VALUE}.")
    int threads;

    @Option(names = "--scheduler", description = "Also run the difficulty stream's topology again over the run's recorded inputs, "
            + "fed each version as it is recomputed, and compare its decisions (batches, replay draws, releases) with the recorded ones.")
    boolean scheduler;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Torch.configure(threads);
        if (Torch.threads() != threads) {
            throw new ParameterException(spec.commandLine(), "--threads " + threads + ": PyTorch already runs " + Torch.threads()
                    + " threads in this process, and sums would run in another order");
        }
        try (Platform cluster = platform.openRecorded()) {
            String prefix = platform.recordedRun(cluster, runId);
            long start = System.nanoTime();
            RunRecord record = RunRecord.read(cluster.bootstrapServers(), cluster.schemaRegistryUrl(), prefix, modelId);
            long last = upTo == null ? record.latestVersion() : Math.min(upTo, record.latestVersion());
            out.printf("run        %s: %s, versions %d–%d recorded on %s; pool %,d, %,d scored rollouts learned from (read in %.1f s)%n",
                    record.runId(), record.config().method(), record.firstVersion(), record.latestVersion(), cluster.bootstrapServers(),
                    record.pool().size(), record.rollouts().size(), (System.nanoTime() - start) / 1e9);
            for (RunRecord fork = record; fork.parent() != null; fork = fork.parent()) {
                out.printf("fork       %s started from run %s at version %d: its versions up to there are reproduced first%n",
                        fork.runId(), fork.parent().runId(), fork.firstVersion());
            }
            out.flush();
            long computing = System.nanoTime();
            // A fork's lineage: each start is checked twice, as its parent's version and as the fork's first.
            int forks = 0;
            for (RunRecord fork = record; fork.parent() != null; fork = fork.parent()) {
                forks++;
            }
            List<Reproduction.Check> checks = new ArrayList<>();
            SchedulerCheck.Outcome schedule = null;
            try (ProgressBar bar = ProgressBars.create("reproduce", last + 1 + forks);
                 SchedulerCheck stream = scheduler ? new SchedulerCheck(cluster, prefix, record) : null) {
                Reproduction.stateAt(record, last, recomputed -> {
                    Reproduction.Check check = recomputed.check();
                    checks.add(check);
                    bar.step();
                    if (!check.matches()) {
                        out.printf("mismatch   version %d: %s differ%n", check.version(), check.differences());
                        out.flush();
                    }
                    if (stream != null) {
                        stream.version(recomputed);
                    }
                });
                if (stream != null) {
                    schedule = stream.finish(last);
                }
            }
            double seconds = (System.nanoTime() - computing) / 1e9;
            List<Reproduction.Check> mismatched = checks.stream().filter(c -> !c.matches()).toList();
            out.printf("result     %d of %d versions match (versions 0–%d%s, recomputed in %.1f s)%n", checks.size() - mismatched.size(),
                    checks.size(), last, forks == 0 ? "" : ", with the fork's start checked as its parent's and its own", seconds);
            if (schedule != null) {
                out.printf("schedule   %s as recorded (the stream's topology run again over %,d recorded inputs)%n",
                        schedule.result().tallies().entrySet().stream().map(e -> String.format("%d of %d %s", e.getValue().matched(),
                                e.getValue().decisions(), e.getKey())).collect(Collectors.joining(", ")), schedule.inputs());
                schedule.result().differences().stream().limit(5).forEach(d -> out.printf("differs    %s%n", d));
                if (schedule.result().differences().size() > 5) {
                    out.printf("differs    … and %d more%n", schedule.result().differences().size() - 5);
                }
            }
            if (!mismatched.isEmpty()) {
                Reproduction.Check first = mismatched.get(0);
                out.printf("first      mismatch at version %d: %s%n", first.version(), first.differences());
                return 1;
            }
            return schedule != null && !schedule.result().matches() ? 1 : 0;
        }
    }
}
