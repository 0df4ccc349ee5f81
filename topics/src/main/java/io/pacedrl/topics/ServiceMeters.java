package io.pacedrl.topics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;

/**
 * The meters of one service instance, in this process's Prometheus registry (scraped at
 * {@code /metrics}, see {@link MetricsEndpoint}), and its health check: every meter carries the
 * tags {@code service}, {@code run} and {@code instance}, and is removed when the service closes, so
 * that a process running several services, or one run after another, reports each once. The meter
 * names are catalogued here; the registry also holds the JVM's meters and each bound Kafka
 * client's own metrics (consumer lag, request rates, …).
 */
public final class ServiceMeters implements AutoCloseable {
    /** Rollouts a generator wrote (rate: rollouts/s). */
    public static final String ROLLOUTS_GENERATED = "pacedrl.rollouts.generated";
    /** The policy version a generator samples with. */
    public static final String GENERATOR_POLICY_VERSION = "pacedrl.generator.policy.version";
    /** Rollouts a verifier scored, by verifier. */
    public static final String ROLLOUTS_SCORED = "pacedrl.rollouts.scored";
    /** How long a verifier took per rollout, by verifier. */
    public static final String VERIFIER_LATENCY = "pacedrl.verifier.latency";
    /** Records a service dead-lettered, by service and reason (counted as written; a retried transaction counts again). */
    public static final String DEAD_LETTERS = "pacedrl.dead.letters";
    /** Hanging transactions on the run's topics at the learner's watch's last look ({@link HangingTransactionWatch}). */
    public static final String HANGING_TRANSACTIONS = "pacedrl.hanging.transactions";
    /** The learner's newest version. */
    public static final String LEARNER_VERSION = "pacedrl.learner.version";
    /** The learner's step and evaluation figures, one gauge each, named after the run metric (loss, beta-kl, …). */
    public static final String LEARNER_PREFIX = "pacedrl.learner.";

    private static final PrometheusMeterRegistry REGISTRY = createRegistry();
    private static final List<Supplier<Optional<String>>> HEALTH = new CopyOnWriteArrayList<>();

    private final Tags tags;
    private final List<Meter> meters = new CopyOnWriteArrayList<>();
    private final List<AutoCloseable> binders = new CopyOnWriteArrayList<>();
    private final Map<String, double[]> values = new ConcurrentHashMap<>();
    private volatile Supplier<Optional<String>> health = Optional::empty;

    private static PrometheusMeterRegistry createRegistry() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        return registry;
    }

    /**
     * @param service  what it is (generator, reward-service, learner, difficulty-stream)
     * @param run      the run's topic prefix, without its trailing dot
     * @param instance which one (a generator's id), or the service's name
     */
    public ServiceMeters(String service, String run, String instance) {
        this.tags = Tags.of("service", service, "run", run.isEmpty() ? "-" : run.replaceAll("[._-]+$", ""), "instance", instance);
    }

    /** The service's health from now on: why it is not doing its work, or empty while it is. */
    public void healthCheck(Supplier<Optional<String>> problem) {
        HEALTH.remove(health);
        health = problem;
        HEALTH.add(problem);
    }

    /** The registry every service of this process reports to. */
    public static PrometheusMeterRegistry registry() {
        return REGISTRY;
    }

    /** The problems of this process's services (empty: healthy). */
    public static List<String> problems() {
        List<String> problems = new ArrayList<>();
        HEALTH.forEach(check -> check.get().ifPresent(problems::add));
        return problems;
    }

    /** Counts a dead letter a service wrote; {@code service} as on the dead letter. */
    static void deadLetter(String service, String reason) {
        REGISTRY.counter(DEAD_LETTERS, "service", service, "reason", reason).increment();
    }

    /** A counter that reads a running total kept in {@code state} (held weakly: the service keeps it). */
    public <T> void counted(String name, T state, ToDoubleFunction<T> total) {
        keep(FunctionCounter.builder(name, state, total).tags(tags).register(REGISTRY));
    }

    public Timer timer(String name, String... moreTags) {
        return keep(Timer.builder(name).tags(tags).tags(moreTags).publishPercentiles(0.5, 0.99).register(REGISTRY));
    }

    public void gauge(String name, Supplier<Number> value) {
        keep(Gauge.builder(name, value).tags(tags).strongReference(true).register(REGISTRY));
    }

    /** Sets gauge {@code name} (made on first use) to {@code value}. */
    public void set(String name, double value) {
        values.computeIfAbsent(name, n -> {
            double[] cell = {Double.NaN};
            gauge(n, () -> cell[0]);
            return cell;
        })[0] = value;
    }

    /** The Kafka client's own metrics (lag, rates, …), tagged with this service's tags and {@code group} (or "-"). */
    public void bind(Consumer<?, ?> consumer, String group) {
        bind(new KafkaClientMetrics(consumer, tags.and("group", group)));
    }

    public void bind(Producer<?, ?> producer) {
        bind(new KafkaClientMetrics(producer, tags));
    }

    /** A binder of client metrics, closed with this service. */
    private <B extends MeterBinder & AutoCloseable> void bind(B binder) {
        binder.bindTo(REGISTRY);
        binders.add(binder);
    }

    private <M extends Meter> M keep(M meter) {
        meters.add(meter);
        return meter;
    }

    /** Removes this service's meters and health check (its clients' metrics too). */
    @Override
    public void close() {
        HEALTH.remove(health);
        binders.forEach(binder -> {
            try {
                binder.close();
            } catch (Exception e) {
                // a binder that fails to close leaves its meters; nothing else depends on it
            }
        });
        meters.forEach(REGISTRY::remove);
    }
}
