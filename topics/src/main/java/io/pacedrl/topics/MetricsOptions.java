package io.pacedrl.topics;

import java.io.IOException;
import picocli.CommandLine.Option;

/** Where a service serves its /metrics and /health ({@link MetricsEndpoint}); not at all unless a port is given. */
public final class MetricsOptions {
    @Option(names = "--metrics-port", paramLabel = "PORT", defaultValue = "${env:PACED_RL_METRICS_PORT}",
            description = "Serve /metrics (Prometheus) and /health on this port (0: a free one). Default: not served. "
                    + "Env: PACED_RL_METRICS_PORT.")
    Integer port;

    @Option(names = "--metrics-host", paramLabel = "HOST", defaultValue = "${env:PACED_RL_METRICS_HOST:-127.0.0.1}",
            description = "Address to serve them on (default: ${DEFAULT-VALUE}; 0.0.0.0 in a container). Env: PACED_RL_METRICS_HOST.")
    String host;

    /** The endpoint, started; null when no port was given. */
    MetricsEndpoint start() throws IOException {
        return port == null ? null : MetricsEndpoint.start(host, port);
    }
}
