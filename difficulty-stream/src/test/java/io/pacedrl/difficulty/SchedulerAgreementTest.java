package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.learning.PartitionEnsemble;
import io.pacedrl.learning.PartitionFunction;
import io.pacedrl.learning.ReferenceSchedule;
import io.pacedrl.learning.ReplayBuffer;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ScheduledPrompt;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.kafka.streams.KeyValue;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stream's scheduler and the synchronous reference, fed the same pool, embeddings, Z_φ versions
 * and groups, schedule the same prompts in the same order and replay the same trajectories: the
 * asynchronous pipeline runs the method the reference defines. The pool is larger than
 * selection-candidates, so the seeded candidate sample is compared too, and half of each batch
 * explores, so the seeded uniform draw among the candidates is as well. With copies of Z_φ
 * ({@code partition-copies}) both rank each scored set by the same members.
 */
class SchedulerAgreementTest {
    static final int POOL = 60;
    static final int WIDTH = 16;
    static final int VERSIONS = 8;

    @TempDir
    static Path kafkaDir;
    @TempDir
    Path stateDir;
    static LocalKafka kafka;

    @BeforeAll
    static void start() throws Exception {
        Torch.configure(1);
        kafka = LocalKafka.start(kafkaDir, true);
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    @Test
    void theStreamAndTheSynchronousReferenceScheduleAndReplayTheSame() {
        agree(24, false, 0);
        agree(4096, false, 0);
    }

    /** p̂ ranked by Z_φ now and its two previous versions, published with it, on both sides. */
    @Test
    void withCopiesOfZTheyRankTheSameSets() {
        agree(24, false, 2);
    }

    /**
     * In lock-step the learner may publish version v before the scheduler has seen batch v − 1's
     * groups come back: the batch and the draw for v wait for them, and still agree with the reference.
     */
    @Test
    void inLockStepGroupsThatComeBackAfterTheNextVersionChangeNothing() {
        agree(24, true, 0);
    }

    private void agree(int candidates, boolean groupsAfterNextVersion, int copies) {
        {
            TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "prompts-per-step", 4,
                    "group-size", 4, "look-ahead", 1, "selection-candidates", candidates, "replay-capacity", 6, "replay-add", 4,
                    "replay-size", 3, "seed", 5, "explore-share", 0.5));
            List<String> ids = new ArrayList<>();
            List<float[]> embeddings = new ArrayList<>();
            SplittableRandom random = new SplittableRandom(3);
            for (int i = 0; i < POOL; i++) {
                ids.add(String.format("q%03d", (i * 37) % POOL)); // arrival order is not id order
                float[] e = new float[WIDTH];
                for (int d = 0; d < WIDTH; d++) {
                    e[d] = (float) (random.nextDouble() * 2 - 1);
                }
                embeddings.add(e);
            }
            List<byte[]> earlier = new ArrayList<>();
            List<String> stream = new ArrayList<>();
            List<String> reference = new ArrayList<>();
            try (NDManager manager = NDManager.newBaseManager();
                    Pipeline p = new Pipeline(new SchemaRegistryClient(kafka.schemaRegistryUrl()), stateDir.resolve("c" + candidates), config)) {
                ReferenceSchedule<String> sync = new ReferenceSchedule<>(config, ids);
                for (int i = 0; i < POOL; i++) {
                    p.prompt(Records.prompt(ids.get(i)));
                    p.embedding(ids.get(i), embeddings.get(i));
                }
                p.endOfEmbeddings();
                List<Runnable> late = new ArrayList<>();
                for (long version = 0; version < VERSIONS; version++) {
                    // Z_φ of this version: its own random weights around p̂ = 0.5, as a learner's would move.
                    byte[] parameters;
                    try (PartitionFunction z = new PartitionFunction(manager, WIDTH, new PartitionFunction.Config(8, 0f, 0.5 / config.beta()),
                            100 + version)) {
                        parameters = z.toBytes();
                    }
                    if (copies > 0) {
                        byte[] now = parameters;
                        parameters = PartitionEnsemble.toBytes(now, earlier.subList(Math.max(0, earlier.size() - copies), earlier.size()));
                        earlier.add(now);
                    }
                    p.publishEstimator(version, parameters);
                    p.learnerVersion(version);
                    if (groupsAfterNextVersion && version > 0) {
                        assertEquals(List.of(), p.scheduled(), "batch " + version + " waits for the groups of the last");
                        assertEquals(List.of(), p.replay(), "so does the draw for update " + version);
                        late.forEach(Runnable::run);
                        late.clear();
                    }
                    List<ScheduledPrompt> batch = p.scheduled();
                    List<KeyValue<String, ReplayRecord>> drawn = p.replay();
                    stream.add("batch " + version + ": " + batch.stream().map(s -> s.getPrompt().getId()).toList());
                    stream.add("replay " + version + ": " + drawn.stream().map(kv -> kv.key).toList());

                    try (PartitionEnsemble z = PartitionEnsemble.fromBytes(manager, parameters)) {
                        ReferenceSchedule.Choice choice = sync.choose(version, prompts -> estimates(z, embeddings, prompts,
                                config.beta()));
                        List<ReplayBuffer.Entry<String>> replayed = sync.drawReplay(version, prompts -> estimates(z, embeddings,
                                prompts, config.beta()));
                        reference.add("batch " + version + ": " + java.util.Arrays.stream(choice.prompts()).mapToObj(ids::get).toList());
                        reference.add("replay " + version + ": " + replayed.stream().map(ReplayBuffer.Entry::id).toList());

                        // The same groups come back to both: rewards from the prompt and the version.
                        List<ReplayBuffer.Group<String>> groups = new ArrayList<>();
                        for (int k = 0; k < batch.size(); k++) {
                            ScheduledPrompt s = batch.get(k);
                            double[] rewards = new double[4];
                            for (int i = 0; i < rewards.length; i++) {
                                rewards[i] = Math.floorMod((s.getPrompt().getId() + "/" + version + "/" + i).hashCode(), 3) == 0 ? 1 : 0;
                            }
                            if (groupsAfterNextVersion) {
                                late.add(() -> p.group(s, rewards));
                            } else {
                                p.group(s, rewards);
                            }
                            List<ReplayBuffer.Trajectory<String>> trajectories = new ArrayList<>();
                            for (int i = 0; i < rewards.length; i++) {
                                String id = s.getScheduleId() + "/" + i;
                                // The stream's rollout i answers with tokens 3, 4 + i (Records.scored).
                                trajectories.add(new ReplayBuffer.Trajectory<>(id, rewards[i] == 1,
                                        ReplayBuffer.responseOf(new int[] {3, 4 + i}), id));
                            }
                            groups.add(new ReplayBuffer.Group<>(ids.get(choice.prompts()[k]), choice.pHat()[k], trajectories));
                            assertEquals(choice.pHat()[k], s.getPHat(), "the same p̂, bit for bit");
                        }
                        sync.offerReplay(groups);
                    }
                }
            }
            assertEquals(reference, stream, "candidates " + candidates + ", copies " + copies);
            assertTrue(stream.stream().anyMatch(line -> line.startsWith("replay") && !line.endsWith("[]")), stream.toString());
        }
    }

    /** p̂ of these pool prompts by Z_φ {@code z} and its copies, as the learner computes it. */
    private static double[] estimates(PartitionEnsemble z, List<float[]> embeddings, int[] prompts, double beta) {
        float[] rows = new float[prompts.length * WIDTH];
        for (int k = 0; k < prompts.length; k++) {
            System.arraycopy(embeddings.get(prompts[k]), 0, rows, k * WIDTH, WIDTH);
        }
        return z.accuracyEstimates(rows, prompts.length, beta);
    }
}
