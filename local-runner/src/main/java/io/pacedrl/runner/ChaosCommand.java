package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pacedrl.embedded.EmbeddedKafkaBroker;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.registry.SchemaRegistryException;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A fault campaign: the pool and the four services as separate processes (two generators) on an
 * embedded broker and a registry of their own, the services killed with SIGKILL at seeded random
 * moments and started again at once, the broker restarted once and the registry taken away for a
 * while. Each fault waits for the learner's next version, which is how long the pipeline took to
 * recover. At the end the invariants are read from the topics ({@link ChaosInvariants}).
 */
@Command(name = "chaos", mixinStandardHelpOptions = true,
        description = "Kill services at random moments during a run, restart the broker, take the registry away; check every "
                + "version, rollout and score came exactly once.")
final class ChaosCommand implements Callable<Integer> {
    /** The services that can be killed, by the name --services takes. */
    static final List<String> SERVICES = List.of("difficulty-stream", "generator", "reward-service", "learner-service");
    static final String MODEL_ID = TrainingRun.MODEL_ID;
    /** How long after the final version the invariants may take to hold. */
    private static final Duration SETTLE = Duration.ofSeconds(60);

    @Mixin
    RunOptions run;

    @Mixin
    TrainingOptions training;

    @Mixin
    SuiteOptions suiteOptions;

    @Option(names = "--kills", defaultValue = "20", paramLabel = "N", description = "SIGKILLs per service (default: ${DEFAULT-VALUE}).")
    int kills;

    @Option(names = "--services", split = ",", paramLabel = "NAME[,NAME...]",
            description = "The services to kill: difficulty-stream, generator, reward-service, learner-service. Default: all.")
    List<String> services = new ArrayList<>(SERVICES);

    @Option(names = "--registry-outage-seconds", defaultValue = "30", paramLabel = "S",
            description = "How long the registry is away, once (default: ${DEFAULT-VALUE}; 0: never).")
    int registryOutageSeconds;

    @Option(names = "--broker-restarts", defaultValue = "1", paramLabel = "N", description = "Broker restarts (default: ${DEFAULT-VALUE}).")
    int brokerRestarts;

    @Option(names = "--chaos-seed", defaultValue = "7", paramLabel = "N", description = "Seed of the fault moments (default: ${DEFAULT-VALUE}).")
    long chaosSeed;

    @Option(names = "--recovery-timeout-seconds", defaultValue = "180", paramLabel = "S",
            description = "Give up when no version follows a fault for this long (default: ${DEFAULT-VALUE}).")
    int recoveryTimeoutSeconds;

    @Spec
    CommandSpec spec;

    /** A fault to come: what, once the learner is at which version, and how long after that. */
    record Planned(String target, long atVersion, int delayMs) {}

    /** One fault made: what, and how long until the learner's next version. */
    record Fault(String target, double recoverySeconds) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        for (String service : services) {
            if (!SERVICES.contains(service)) {
                throw new ParameterException(spec.commandLine(), "--services: no service '" + service + "' (one of " + SERVICES + ")");
            }
        }
        if (kills < 0 || registryOutageSeconds < 0 || brokerRestarts < 0) {
            throw new ParameterException(spec.commandLine(), "--kills, --registry-outage-seconds and --broker-restarts must be ≥ 0");
        }
        TrainingConfig config = training.config();
        TaskSuite suite = suiteOptions.suite();
        Path runDir = run.runDir("chaos");
        Path weights = training.referenceWeights(out, TrainCommand.warmStart(suite));
        Path configFile = runDir.resolve("config.yaml");
        new ObjectMapper(new YAMLFactory()).writeValue(configFile.toFile(), config.asKeys());
        String runId = runDir.getFileName().toString();
        String prefix = runId + ".";
        Path logs = Files.createDirectories(runDir.resolve("logs"));

        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(runDir.resolve("kafka"), false);
        int registryPort = freePort();
        String registryUrl = "http://127.0.0.1:" + registryPort;
        ServiceProcess registry = new ServiceProcess("schema-registry", List.of(), List.of("schema-registry", "--bootstrap-servers",
                broker.bootstrapServers(), "--port", Integer.toString(registryPort)), logs.resolve("schema-registry.log"));
        List<ServiceProcess> all = new ArrayList<>();
        try {
            registry.start();
            awaitRegistry(registryUrl, Duration.ofSeconds(60));
            List<String> cluster = List.of("--bootstrap-servers", broker.bootstrapServers(), "--schema-registry-url", registryUrl,
                    "--topic-prefix", prefix);
            // The pool as an operator loads it: the pool command, its own process.
            List<String> pool = new ArrayList<>(List.of("pool"));
            pool.addAll(cluster);
            pool.addAll(List.of("--pool-size", Integer.toString(suite.train().size())));
            new ServiceProcess("pool", List.of(), pool, logs.resolve("pool.log")).runToEnd(Duration.ofMinutes(5));
            Topics topics = new Topics(prefix, new SchemaRegistryClient(registryUrl));

            Map<String, ServiceProcess> byName = new LinkedHashMap<>();
            byName.put("difficulty-stream", service("difficulty-stream", logs, cluster, List.of("difficulty-stream", "--config",
                    configFile.toString(), "--run-id", runId, "--state-dir", runDir.resolve("state").toString(), "--http-port", "0",
                    "--instance-id", prefix + "difficulty-stream-0")));
            Map<String, Path> generatorLogs = new LinkedHashMap<>();
            for (int g = 0; g < 2; g++) {
                String id = "generator-" + g;
                ServiceProcess generator = service(id, logs, cluster, List.of("generator-service", "--generator-id", id,
                        "--model-id", MODEL_ID, "--config", configFile.toString(), "--threads", "1"));
                byName.put(id, generator);
                generatorLogs.put(id, generator.log());
            }
            byName.put("reward-service", service("reward-service", logs, cluster, List.of("reward-service", "--instance-id", "0")));
            byName.put("learner-service", service("learner-service", logs, cluster, List.of("learner-service", "--config",
                    configFile.toString(), "--run-id", runId, "--model-id", MODEL_ID, "--checkpoint-dir",
                    runDir.resolve("checkpoints").toString(), "--weights", weights.toString(), "--threads", "1")));
            all.addAll(byName.values());
            for (ServiceProcess process : all) {
                process.start();
            }
            // Restarted when they exit by themselves; the registry too, but for the outage made on purpose.
            List<ServiceProcess> supervised = new ArrayList<>(all);
            supervised.add(registry);
            out.printf("chaos      run %s: %d updates, services as processes (logs in %s), %d kills per service of %s, "
                    + "%d broker restart(s), registry away %d s once%n", runId, config.steps(), logs, kills, services, brokerRestarts,
                    registryOutageSeconds);
            out.flush();

            // Seeded moments spread from a tenth of the run to three quarters (the rest lets it finish): each
            // fault at a random version, a random moment into its update. Not during start-up: a broker
            // restarted in the first versions has left committed transactions open on their partitions, which
            // stall the run until the learner's watch commits them after 90 s of quiet (docs/faults.md,
            // "Hanging transactions"); campaigns with early faults have not been run since it does.
            Random random = new Random(chaosSeed);
            List<Planned> plan = new ArrayList<>();
            List<String> targets = new ArrayList<>();
            for (String service : services) {
                targets.addAll(Collections.nCopies(kills, service));
            }
            targets.addAll(Collections.nCopies(brokerRestarts, "broker"));
            if (registryOutageSeconds > 0) {
                targets.add("registry");
            }
            for (String target : targets) {
                int first = config.steps() / 10;
                plan.add(new Planned(target, first + random.nextInt(Math.max(1, config.steps() * 3 / 4 - first)), random.nextInt(1500)));
            }
            plan.sort(Comparator.comparingLong(Planned::atVersion));

            List<Fault> faults = new ArrayList<>();
            try (Progress progress = new Progress(broker.bootstrapServers(), topics, runId)) {
                for (Planned planned : plan) {
                    progress.awaitVersion(planned.atVersion(), Duration.ofSeconds(recoveryTimeoutSeconds), supervised);
                    progress.awaitFor(Duration.ofMillis(planned.delayMs()), supervised);
                    if (progress.finished()) {
                        out.printf("chaos      the run finished; %d of %d faults done%n", faults.size(), plan.size());
                        break;
                    }
                    String target = planned.target();
                    long before = progress.version();
                    out.printf("fault %3d  %-17s at version %4d…%n", faults.size() + 1, target, before);
                    out.flush();
                    long faultAt = System.nanoTime();
                    switch (target) {
                        case "broker" -> broker = broker.restart();
                        case "registry" -> {
                            registry.kill();
                            progress.awaitFor(Duration.ofSeconds(registryOutageSeconds), all);
                            registry.start();
                        }
                        case "generator" -> byName.get("generator-" + random.nextInt(2)).killAndRestart();
                        default -> byName.get(target).killAndRestart();
                    }
                    double recovered = progress.awaitVersionAfter(before, faultAt, Duration.ofSeconds(recoveryTimeoutSeconds),
                            supervised);
                    faults.add(new Fault(target, recovered));
                    out.printf("fault %3d  %-17s at version %4d: the next version %.1f s after the fault%n", faults.size(), target, before,
                            recovered);
                    out.flush();
                }
                progress.awaitFinal(Duration.ofSeconds(recoveryTimeoutSeconds), supervised);
            } catch (IllegalStateException stalled) {
                printProblems(out, supervised);
                throw stalled;
            }
            // The invariants are about the run's end, which the services reach a little after the learner's final
            // version: generators take that version, and a service restarted near the end still scores the last
            // rollouts. So they are read until they hold or a minute has passed; a duplicate never goes away, so the
            // wait hides none.
            ChaosInvariants invariants;
            long settleBy = System.nanoTime() + SETTLE.toNanos();
            do {
                Thread.sleep(3000);
                invariants = ChaosInvariants.check(broker.bootstrapServers(), topics, MODEL_ID, config.steps(), generatorLogs);
            } while (!invariants.allHold() && System.nanoTime() < settleBy);
            print(out, faults, supervised, invariants);
            return invariants.allHold() ? 0 : 1;
        } finally {
            for (ServiceProcess process : all) {
                process.close();
            }
            registry.close();
            broker.close();
        }
    }

    private ServiceProcess service(String name, Path logs, List<String> cluster, List<String> command) {
        List<String> args = new ArrayList<>(command.subList(0, 1));
        args.addAll(cluster);
        args.addAll(command.subList(1, command.size()));
        // The versions each generator takes are read back from its log.
        return new ServiceProcess(name, List.of("-Dorg.slf4j.simpleLogger.log.io.pacedrl.generator=info"), args,
                logs.resolve(name + ".log"));
    }

    private static void print(PrintWriter out, List<Fault> faults, List<ServiceProcess> processes, ChaosInvariants invariants) {
        Map<String, List<Double>> recovery = new LinkedHashMap<>();
        faults.forEach(f -> recovery.computeIfAbsent(f.target(), t -> new ArrayList<>()).add(f.recoverySeconds()));
        out.printf("%nrecovery (the fault's start → the learner's next version; the registry's includes its time away):%n");
        recovery.forEach((target, seconds) -> {
            List<Double> sorted = seconds.stream().sorted().toList();
            out.printf("  %-17s %3d faults, median %.1f s, max %.1f s%n", target, sorted.size(), sorted.get((sorted.size() - 1) / 2),
                    sorted.get(sorted.size() - 1));
        });
        for (ServiceProcess process : processes) {
            if (process.exitedOnItsOwn() > 0) {
                out.printf("  %s exited by itself %d time(s) and was started again (see its log)%n", process.name(),
                        process.exitedOnItsOwn());
            }
        }
        out.printf("%ninvariants:%n");
        for (ChaosInvariants.Check check : invariants.checks()) {
            out.printf("  %-4s %-42s %s%n", check.holds() ? "ok" : "FAIL", check.name(), check.detail());
        }
        out.printf("result     %s%n", invariants.allHold() ? "every invariant holds" : "an invariant does not hold");
        out.flush();
    }

    /** What the processes' logs say went wrong (their last errors), for a campaign that stalled. */
    private static void printProblems(PrintWriter out, List<ServiceProcess> processes) throws java.io.IOException {
        for (ServiceProcess process : processes) {
            List<String> errors = Files.readAllLines(process.log()).stream()
                    .filter(line -> line.contains("ERROR") || line.contains("Exception:") || line.startsWith("stopping") || line.startsWith("paced-rl"))
                    .toList();
            out.printf("%s: %d error lines in %s, the last:%n", process.name(), errors.size(), process.log());
            errors.subList(Math.max(0, errors.size() - 5), errors.size()).forEach(line -> out.printf("  %s%n",
                    line.length() > 300 ? line.substring(0, 300) + "…" : line));
        }
        out.flush();
    }

    private static void awaitRegistry(String url, Duration patience) throws InterruptedException {
        long deadline = System.nanoTime() + patience.toNanos();
        SchemaRegistryClient client = new SchemaRegistryClient(url, Duration.ofSeconds(2));
        while (true) {
            try {
                client.subjects();
                return;
            } catch (SchemaRegistryException e) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the schema registry at " + url + " did not start: " + e.getMessage(), e);
                }
                Thread.sleep(200);
            }
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /**
     * The learner's progress as its run events report it; while waiting, a service that exited by
     * itself is started again (as a supervisor would) and counted.
     */
    static final class Progress implements AutoCloseable {
        private final KafkaConsumer<String, RunEvent> events;
        private final String runId;
        private long version = -1;
        /** When each version's metrics arrived (System.nanoTime()). */
        private final Map<Long, Long> arrivals = new HashMap<>();
        private boolean finished;

        Progress(String bootstrapServers, Topics topics, String runId) {
            this.runId = runId;
            events = new KafkaConsumer<>(ClientSettings.kafka(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed")), new StringDeserializer(),
                    topics.runEvents.valueSerde().deserializer());
            TopicPartition partition = new TopicPartition(topics.runEvents.name(), 0);
            events.assign(List.of(partition));
            events.seekToBeginning(List.of(partition));
        }

        long version() {
            return version;
        }

        boolean finished() {
            return finished;
        }

        void awaitVersion(long atLeast, Duration patience, List<ServiceProcess> services) throws Exception {
            long from = System.nanoTime();
            while (version < atLeast && !finished) {
                if (System.nanoTime() - from > patience.toNanos()) {
                    throw new IllegalStateException("the learner did not reach version " + atLeast + " within " + patience.toSeconds()
                            + " s; it is at " + version);
                }
                poll(services);
            }
        }

        void awaitFor(Duration wait, List<ServiceProcess> services) throws Exception {
            long deadline = System.nanoTime() + wait.toNanos();
            while (System.nanoTime() < deadline) {
                poll(services);
            }
        }

        /** Seconds from {@code sinceNanos} (a fault) until the first version after {@code before} came. */
        double awaitVersionAfter(long before, long sinceNanos, Duration patience, List<ServiceProcess> services) throws Exception {
            long from = System.nanoTime();
            while (version <= before && !finished) {
                if (System.nanoTime() - from > patience.toNanos()) {
                    throw new IllegalStateException("no version after " + before + " within " + patience.toSeconds()
                            + " s of the fault; the services' logs say why");
                }
                poll(services);
            }
            long arrived = arrivals.entrySet().stream().filter(e -> e.getKey() > before).mapToLong(Map.Entry::getValue).min()
                    .orElse(System.nanoTime());
            return (arrived - sinceNanos) / 1e9;
        }

        void awaitFinal(Duration patience, List<ServiceProcess> services) throws Exception {
            long last = version;
            long since = System.nanoTime();
            while (!finished) {
                poll(services);
                if (version != last) {
                    last = version;
                    since = System.nanoTime();
                } else if (System.nanoTime() - since > patience.toNanos()) {
                    throw new IllegalStateException("no version for " + patience.toSeconds() + " s; the learner is at " + version);
                }
            }
        }

        private void poll(List<ServiceProcess> services) throws Exception {
            for (ServiceProcess service : services) {
                service.restartIfExited();
            }
            for (ConsumerRecord<String, RunEvent> record : events.poll(Duration.ofMillis(200))) {
                RunEvent event = record.value();
                if (!event.getSource().equals(RunEvents.LEARNER) || !event.getRunId().equals(runId)) {
                    continue;
                }
                if (event.getType().equals(RunEvents.METRICS)) {
                    version = Math.max(version, event.getLearnerVersion());
                    arrivals.putIfAbsent(event.getLearnerVersion(), System.nanoTime());
                } else if (event.getType().equals(RunEvents.FINAL)) {
                    finished = true;
                }
            }
        }

        @Override
        public void close() {
            events.close();
        }
    }
}
