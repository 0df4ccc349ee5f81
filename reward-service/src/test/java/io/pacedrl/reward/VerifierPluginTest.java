package io.pacedrl.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.FinishReason;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.Plugins;
import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A verifier written apart from the project, compiled into a jar of its own as a user would, put in
 * a plug-in directory and loaded: the reward service finds it and scores its kind on a real broker.
 */
class VerifierPluginTest {
    /** The plug-in, as docs/operations.md's walk-through writes it. */
    private static final String SOURCE = """
            package example;

            import io.pacedrl.tasks.RewardVerifier;
            import io.pacedrl.tasks.TaskPrompt;
            import io.pacedrl.tasks.Verdict;
            import java.util.Map;
            import java.util.Set;

            /** Scores a response right when it is the prompt's answer in capitals. */
            public final class ShoutVerifier implements RewardVerifier {
                public String name() { return "shout"; }
                public String version() { return "1"; }
                public Set<String> kinds() { return Set.of("shout"); }
                public Verdict verify(TaskPrompt prompt, String response) {
                    return response.strip().equals(prompt.answer().toUpperCase())
                            ? Verdict.correct(Map.of()) : Verdict.wrong("not shouted");
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aVerifierJarInThePluginDirectoryScoresItsKind() throws Exception {
        Path plugins = Files.createDirectories(dir.resolve("plugins"));
        assertThrows(IllegalArgumentException.class, () -> Plugins.load(plugins), "an empty plug-in directory is refused");
        buildPlugin(plugins.resolve("shout-verifier.jar"));

        Plugins.load(plugins);
        RewardVerifier shout = RewardService.available().get("shout");
        assertTrue(shout != null, "the plug-in's verifier is available: " + RewardService.available().keySet());

        try (LocalKafka kafka = LocalKafka.start(dir.resolve("kafka"), true)) {
            Topics topics = new Topics("plugin.", new SchemaRegistryClient(kafka.schemaRegistryUrl()));
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
                new TopicCreator(admin, Duration.ofSeconds(30)).ensure(topics.all());
            }
            try (RewardService service = RewardService.start(RewardService.Options.of(kafka.bootstrapServers(), kafka.schemaRegistryUrl(),
                    "plugin."), List.of(shout));
                    var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                            kafka.bootstrapServers()), new StringSerializer(), topics.rollouts.valueSerde().serializer())) {
                producer.send(new ProducerRecord<>(topics.rollouts.name(), "a", rollout("a", "HELLO"))).get();
                producer.send(new ProducerRecord<>(topics.rollouts.name(), "b", rollout("b", "hello"))).get();
                List<ScoredRollout> scored = CommittedRecords.read(kafka.bootstrapServers(), topics.scoredRollouts.name(),
                        topics.scoredRollouts.valueSerde().deserializer(), read -> read.size() == 2, Duration.ofSeconds(60));
                assertEquals(2, scored.size());
                for (ScoredRollout s : scored) {
                    assertEquals("shout", s.getVerifier());
                    assertEquals(s.getRollout().getPrompt().getId().equals("a"), s.getCorrect());
                }
            }
        }
    }

    private static Rollout rollout(String id, String response) {
        Prompt prompt = Prompt.newBuilder().setId(id).setKind("shout").setFamily("shout").setDifficulty(1).setSplit(PromptSplit.TRAIN)
                .setText("say hello loudly").setAnswer("hello").setSpec(null).build();
        return Rollout.newBuilder().setRolloutId(id + "@0.0/0").setScheduleId(id + "@0.0").setPrompt(prompt).setGroupIndex(0)
                .setGroupSize(1).setPromptTokens(List.of(1)).setResponseTokens(List.of(2)).setResponseText(response)
                .setBehaviourLogProbs(List.of(-0.5f)).setFinishReason(FinishReason.EOS).setPolicyVersion(0)
                .setGeneratorId("test").setTemperature(1f).setTopP(1f).setStartedAtMs(0).setFinishedAtMs(0).build();
    }

    /** Compiles the plug-in against the project's classes and jars it with its service entry. */
    private void buildPlugin(Path jar) throws Exception {
        Path source = Files.createDirectories(dir.resolve("src/example")).resolve("ShoutVerifier.java");
        Files.writeString(source, SOURCE);
        Path classes = Files.createDirectories(dir.resolve("classes"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int status = javac.run(null, null, null, "-d", classes.toString(), "-cp", System.getProperty("java.class.path"),
                source.toString());
        assertEquals(0, status, "the plug-in compiles");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            out.putNextEntry(new JarEntry("example/ShoutVerifier.class"));
            out.write(Files.readAllBytes(classes.resolve("example/ShoutVerifier.class")));
            out.putNextEntry(new JarEntry("META-INF/services/" + RewardVerifier.class.getName()));
            out.write("example.ShoutVerifier\n".getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        }
    }
}
