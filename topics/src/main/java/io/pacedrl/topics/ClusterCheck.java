package io.pacedrl.topics;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.registry.SchemaRegistryException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * Before a command starts work against a cluster: does a broker answer, and does the registry? A
 * dead cluster is reported within the wait (default 10 s), naming the address and the option that
 * sets the wait, instead of after the Kafka clients' own 60 s timeouts.
 */
public final class ClusterCheck {
    public static final Duration DEFAULT_WAIT = Duration.ofSeconds(10);
    /** The command-line option that sets the wait, named in the error. */
    public static final String WAIT_OPTION = "--cluster-wait";

    private ClusterCheck() {}

    /** Fails with what did not answer unless a broker at {@code bootstrapServers} and the registry at {@code registryUrl} both answer within {@code wait}. */
    public static void require(String bootstrapServers, String registryUrl, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        requireBroker(bootstrapServers, wait);
        Duration left = Duration.ofNanos(Math.max(deadline - System.nanoTime(), Duration.ofSeconds(1).toNanos()));
        requireRegistry(registryUrl, left, wait);
    }

    private static void requireBroker(String bootstrapServers, Duration wait) {
        int ms = (int) wait.toMillis();
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ms, AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, ms)))) {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs(ms)).nodes().get(ms + 1000L, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("no Kafka broker answered at " + bootstrapServers + " within " + seconds(wait)
                    + " (" + WAIT_OPTION + " sets the wait); is the cluster up, bootstrap.servers right, and its security settings given (-X, --command-config)?", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the Kafka cluster at " + bootstrapServers, e);
        }
    }

    private static void requireRegistry(String registryUrl, Duration timeout, Duration wait) {
        try {
            new SchemaRegistryClient(registryUrl, timeout).subjects();
        } catch (SchemaRegistryException e) {
            throw new IllegalStateException("the schema registry at " + registryUrl + " did not answer within " + seconds(wait)
                    + " (" + WAIT_OPTION + " sets the wait): " + e.getMessage(), e);
        }
    }

    private static String seconds(Duration wait) {
        return wait.toMillis() % 1000 == 0 ? wait.toSeconds() + " s" : wait.toMillis() + " ms";
    }
}
