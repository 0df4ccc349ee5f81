package io.pacedrl.runner;

import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** An exported run back onto a cluster, under its own run id: after it, {@code reproduce} works there. */
@Command(name = "import", mixinStandardHelpOptions = true,
        description = "Write an exported run's records onto a cluster's topics (created for it), each to its own partition.")
final class ImportCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platform;

    @Parameters(paramLabel = "DIR", description = "A directory written by paced-rl export.")
    Path from;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        RunArchive.Manifest manifest;
        try {
            manifest = RunArchive.manifest(from);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        try (Platform cluster = platform.open("import")) {
            String prefix = platform.topicPrefix + manifest.runId() + ".";
            if (cluster.recordedRuns(platform.topicPrefix).contains(prefix)) {
                throw new ParameterException(spec.commandLine(), "run '" + manifest.runId() + "' is already on " + cluster.bootstrapServers()
                        + "; import it under another --topic-prefix");
            }
            Topics topics = new Topics(prefix, new SchemaRegistryClient(cluster.schemaRegistryUrl()));
            cluster.ensureTopics(topics.all());
            long total = manifest.topics().stream().mapToLong(RunArchive.TopicEntry::records).sum();
            long written;
            try (ProgressBar bar = ProgressBars.create("import " + manifest.runId(), total)) {
                written = RunArchive.importTo(cluster.bootstrapServers(), topics, prefix, from, bar::stepBy);
            }
            out.printf("imported   run %s: %,d records in %d topics onto %s (topics %s*)%n", manifest.runId(), written,
                    manifest.topics().size(), cluster.bootstrapServers(), prefix);
        }
        return 0;
    }
}
