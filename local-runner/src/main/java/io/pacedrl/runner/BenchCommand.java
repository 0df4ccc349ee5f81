package io.pacedrl.runner;

import picocli.CommandLine.Command;

/** Benchmarks: each prints its figures and writes them as JSON to the run directory. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks that print measured figures.",
        subcommands = {PlatformBenchmark.class, ModelBenchmarkCommand.class, SchedulingBenchmarkCommand.class,
                DifficultyBenchmarkCommand.class, SelectionBenchmarkCommand.class,
                GeneratorBenchmarkCommand.class, RewardBenchmarkCommand.class, PipelineBenchmarkCommand.class,
                FloodBenchmarkCommand.class})
final class BenchCommand {}
