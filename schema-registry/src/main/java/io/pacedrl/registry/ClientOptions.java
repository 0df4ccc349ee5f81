package io.pacedrl.registry;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Client settings on the command line, as Kafka's tools take them: a properties file
 * ({@code --command-config}, or {@code PACED_RL_COMMAND_CONFIG}) and repeated {@code -X key=value}
 * over it. They reach every Kafka client and registry client of the process ({@link ClientSettings}).
 */
public final class ClientOptions {
    @Option(names = "--command-config", paramLabel = "FILE", defaultValue = "${env:PACED_RL_COMMAND_CONFIG}",
            description = "Properties file of Kafka client settings (security.protocol, sasl.*, ssl.*, timeouts) and registry "
                    + "settings (basic.auth.user.info, schema.registry.ssl.truststore.*). Env: PACED_RL_COMMAND_CONFIG.")
    Path commandConfig;

    @Option(names = "-X", paramLabel = "KEY=VALUE", description = "One client setting, over --command-config; repeatable.")
    Map<String, String> settings = new LinkedHashMap<>();

    /** Uses these settings for every client this process creates from now on; fails naming the file or key at fault. */
    public void apply() {
        Map<String, String> all = new LinkedHashMap<>();
        if (commandConfig != null) {
            all.putAll(ClientSettings.read(commandConfig));
        }
        all.putAll(settings);
        ClientSettings.use(all);
    }
}
