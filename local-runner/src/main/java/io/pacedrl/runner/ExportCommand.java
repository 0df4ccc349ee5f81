package io.pacedrl.runner;

import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** A recorded run's topics as portable files: one Avro object container file per topic, the schemas, a manifest. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a recorded run's topics to a directory of Avro files (with the schemas, config and report).")
final class ExportCommand implements Callable<Integer> {
    /** The files of a run directory that travel with its topics. */
    static final List<String> RUN_FILES = List.of("config.yaml", "metrics.json", "report.html");

    @Mixin
    PlatformOptions platform;

    @Option(names = "--run-id", paramLabel = "ID", description = "The run to export. Default: the only run recorded on the cluster.")
    String runId;

    @Option(names = "--to", required = true, paramLabel = "DIR", description = "Where the files go (a new or empty directory).")
    Path to;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (Files.isDirectory(to)) {
            try (var entries = Files.list(to)) {
                if (entries.findAny().isPresent()) {
                    throw new ParameterException(spec.commandLine(), "--to " + to + " is not empty");
                }
            }
        }
        try (Platform cluster = platform.openRecorded()) {
            String prefix = platform.recordedRun(cluster, runId);
            String id = prefix.substring(platform.topicPrefix.length(), prefix.length() - 1);
            Topics topics = new Topics(prefix, new SchemaRegistryClient(cluster.schemaRegistryUrl()));
            RunArchive.Manifest manifest;
            try (ProgressBar bar = ProgressBars.create("export " + id, -1)) {
                manifest = RunArchive.export(cluster.bootstrapServers(), topics, prefix, id, to, bar::stepBy);
            }
            for (RunArchive.TopicEntry entry : manifest.topics()) {
                out.printf("  %-20s %,9d records  %s%n", entry.topic(), entry.records(), entry.file());
            }
            if (platform.embedded()) {
                for (String file : RUN_FILES) {
                    Path source = platform.run.runDir.resolve(file);
                    if (Files.isRegularFile(source)) {
                        Files.copy(source, to.resolve(file), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            out.printf("exported   run %s: %,d records in %d topics to %s (%s)%n", id,
                    manifest.topics().stream().mapToLong(RunArchive.TopicEntry::records).sum(), manifest.topics().size(), to,
                    size(to));
        }
        return 0;
    }

    private static String size(Path dir) throws Exception {
        try (var files = Files.walk(dir)) {
            long bytes = files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
            return String.format("%.1f MB", bytes / 1e6);
        }
    }
}
