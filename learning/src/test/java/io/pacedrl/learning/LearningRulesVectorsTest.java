package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.policy.TokenLogProbs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every case of the reference values (shared/vectors/learning-rules.json, copied into the test
 * resources) reproduced to 1e-6 relative or 1e-9 absolute. The losses run in float64 here so
 * that the comparison measures the formula, not float32 rounding; autograd gives the gradients.
 */
class LearningRulesVectorsTest {
    private static final String RESOURCE = "/vectors/learning-rules.json";
    private static JsonNode vectors;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = LearningRulesVectorsTest.class.getResourceAsStream(RESOURCE)) {
            vectors = new ObjectMapper().readTree(in);
        }
    }

    static void close(double expected, double actual, String what) {
        double tolerance = Math.max(1e-9, 1e-6 * Math.abs(expected));
        assertTrue(Math.abs(expected - actual) <= tolerance, what + ": expected " + expected + ", got " + actual);
    }

    private static double[] doubles(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToDouble(JsonNode::asDouble).toArray();
    }

    private static Iterable<JsonNode> cases(String name) {
        return vectors.get(name);
    }

    @Test
    void theCopyInTheResourcesIsTheSharedFile() throws IOException {
        Path shared = Path.of("..", "..", "shared", "vectors", "learning-rules.json");
        assumeTrue(Files.exists(shared), "no ../shared checkout beside the repository");
        try (InputStream in = getClass().getResourceAsStream(RESOURCE)) {
            assertArrayEquals(Files.readAllBytes(shared), in.readAllBytes());
        }
    }

    @Test
    void grpoAdvantages() {
        for (JsonNode c : cases("grpo_advantage")) {
            double[] expected = doubles(c.get("advantages"));
            double[] actual = GroupAdvantages.of(doubles(c.get("rewards")));
            for (int i = 0; i < expected.length; i++) {
                close(expected[i], actual[i], "advantage " + i + " of " + c.get("rewards"));
            }
        }
    }

    @Test
    void trajectoryBalanceLossAndGradients() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (JsonNode c : cases("paced_tb")) {
                TrajectoryBalanceLoss loss = new TrajectoryBalanceLoss(c.get("beta").asDouble());
                NDArray logZ = scalar(manager, c.get("log_z").asDouble(), true);
                NDArray logPTheta = scalar(manager, c.get("logp_theta").asDouble(), true);
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray value = loss.losses(logZ, logPTheta, scalar(manager, c.get("logp_old").asDouble(), false),
                            scalar(manager, c.get("reward").asDouble(), false)).sum();
                    collector.backward(value);
                    close(c.get("loss").asDouble(), value.getDouble(), "TB loss");
                }
                close(c.get("dloss_dlog_z").asDouble(), logZ.getGradient().getDouble(0), "∂L/∂log Z");
                close(c.get("dloss_dlogp_theta").asDouble(), logPTheta.getGradient().getDouble(0), "∂L/∂log π_θ");
            }
        }
    }

    @Test
    void flowRlLossWeightResidualAndGradients() {
        try (NDManager manager = NDManager.newBaseManager()) {
            for (JsonNode c : cases("flowrl")) {
                FlowRlLoss loss = new FlowRlLoss(c.get("beta").asDouble(), c.get("clip_eps").asDouble());
                double[] theta = doubles(c.get("token_logp_theta"));
                NDArray thetaValues = manager.create(theta, new Shape(1, theta.length));
                thetaValues.setRequiresGradient(true);
                TokenLogProbs tokens = new TokenLogProbs(thetaValues, manager.ones(new Shape(1, theta.length), DataType.FLOAT64));
                NDArray old = manager.create(doubles(c.get("token_logp_old")), new Shape(1, theta.length));
                NDArray ref = manager.create(doubles(c.get("token_logp_ref")), new Shape(1, theta.length));
                NDArray reward = scalar(manager, c.get("standardized_reward").asDouble(), false);
                NDArray logZ = scalar(manager, c.get("log_z").asDouble(), true);
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray value = loss.losses(logZ, tokens, old, ref, reward).sum();
                    close(c.get("weight").asDouble(), loss.weights(tokens, old).getDouble(0), "FlowRL weight");
                    close(c.get("residual").asDouble(), loss.residuals(logZ, tokens, ref, reward).getDouble(0), "FlowRL residual");
                    collector.backward(value);
                    close(c.get("loss").asDouble(), value.getDouble(), "FlowRL loss");
                }
                close(c.get("dloss_dlog_z").asDouble(), logZ.getGradient().getDouble(0), "∂L/∂log Z");
                double[] perToken = thetaValues.getGradient().toDoubleArray();
                for (double g : perToken) {
                    close(c.get("dloss_dtoken_logp_theta_each").asDouble(), g, "∂L/∂token log π_θ");
                }
            }
        }
    }

    @Test
    void accuracyEstimateClipsBetaLogZ() {
        for (JsonNode c : cases("p_hat")) {
            close(c.get("p_hat").asDouble(),
                    TrajectoryBalanceLoss.accuracyEstimate(c.get("log_z").asDouble(), c.get("beta").asDouble()), "p̂");
        }
    }

    @Test
    void selectionTakesTheClosestToTauTiesById() {
        for (JsonNode c : cases("select")) {
            List<String> ids = new ArrayList<>();
            List<Double> pHat = new ArrayList<>();
            c.get("pool").forEach(p -> {
                ids.add(p.get("id").asText());
                pHat.add(p.get("p_hat").asDouble());
            });
            DifficultyScheduler scheduler = new DifficultyScheduler(ids, c.get("tau").asDouble());
            int[] chosen = scheduler.select(pHat.stream().mapToDouble(Double::doubleValue).toArray(), c.get("batch").asInt(), i -> false);
            List<String> expected = StreamSupport.stream(c.get("selected").spliterator(), false).map(JsonNode::asText).toList();
            assertEquals(expected, java.util.Arrays.stream(chosen).mapToObj(ids::get).toList());
        }
    }

    @Test
    void replayBufferAddsEvictsAndOrdersAsTheVectorsSay() {
        ReplayBuffer<String> buffer = null;
        for (JsonNode c : cases("replay")) {
            if (buffer == null) {
                assertEquals(0, c.get("buffer_before").size());
                buffer = new ReplayBuffer<>(c.get("capacity").asInt(), c.get("add_max").asInt());
            }
            assertBuffer(c.get("buffer_before"), buffer);
            List<ReplayBuffer.Group<String>> groups = new ArrayList<>();
            for (JsonNode g : c.get("groups")) {
                List<ReplayBuffer.Trajectory<String>> trajectories = new ArrayList<>();
                g.get("trajectories").forEach(t -> trajectories.add(
                        new ReplayBuffer.Trajectory<>(t.get("id").asText(), t.get("reward").asDouble() == 1, t.get("id").asText(),
                                t.get("id").asText())));
                groups.add(new ReplayBuffer.Group<>(g.get("prompt_id").asText(), g.get("p_hat").asDouble(), trajectories));
            }
            buffer.add(groups);
            assertBuffer(c.get("buffer_after"), buffer);
        }
    }

    /** The buffer holds the expected entries in the expected order, priorities to the tolerance. */
    private static void assertBuffer(JsonNode expectedEntries, ReplayBuffer<String> buffer) {
        List<String> expected = describe(expectedEntries);
        List<String> actual = describe(buffer);
        assertEquals(expected.size(), actual.size(), expected + " against " + actual);
        for (int i = 0; i < expected.size(); i++) {
            String[] e = expected.get(i).split(" ");
            String[] a = actual.get(i).split(" ");
            assertEquals(e[0], a[0], "entry " + i + " of " + actual);
            close(Double.parseDouble(e[1]), Double.parseDouble(a[1]), "priority of " + e[0]);
        }
    }

    private static List<String> describe(JsonNode entries) {
        List<String> out = new ArrayList<>();
        entries.forEach(e -> out.add(e.get("id").asText() + " " + e.get("priority").asDouble()));
        return out;
    }

    private static List<String> describe(ReplayBuffer<String> buffer) {
        return buffer.entries().stream().map(e -> e.id() + " " + e.priority()).toList();
    }

    @Test
    void passAtKIsTheUnbiasedEstimator() {
        for (JsonNode c : cases("pass_at_k")) {
            close(c.get("pass_at_k").asDouble(), RunMetrics.passAtK(c.get("n").asInt(), c.get("c").asInt(), c.get("k").asInt()),
                    "pass@k of " + c);
        }
    }

    private static NDArray scalar(NDManager manager, double value, boolean gradient) {
        NDArray array = manager.create(new double[] {value});
        if (gradient) {
            array.setRequiresGradient(true);
        }
        return array;
    }
}
