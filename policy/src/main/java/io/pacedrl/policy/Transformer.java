package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A decoder-only transformer language model, GPT-2 style, written out op by op on DJL NDArrays:
 * token and learned position embeddings, pre-LayerNorm blocks of causal self-attention and a GELU
 * MLP with residual connections, a final LayerNorm, and an output head tied to the token
 * embedding or separate. Weights follow PyTorch's convention ({@code [out, in]}).
 *
 * <p>The forward pass serves three uses: sampling (incremental, with a KV cache), scoring given
 * responses with gradients (one pass over whole sequences), and prompt embeddings. Sampling and
 * scoring see the same positions and the same attended tokens, so the behaviour log-probs a
 * generator records equal what a learner recomputes from the same weights.
 *
 * <p>Arrays passed in and returned belong to the caller's manager; parameters belong to the
 * model's. Everything a call makes in between is freed when it returns.
 */
public final class Transformer implements AutoCloseable {

    /**
     * The architecture.
     *
     * @param vocabSize tokens in the vocabulary
     * @param dModel    width of the residual stream
     * @param layers    transformer blocks
     * @param heads     attention heads (dModel must divide by it)
     * @param context   longest input sequence (learned positions)
     * @param dropout   dropout rate while training
     * @param tiedHead  whether the output head reuses the token embedding
     */
    public record Config(int vocabSize, int dModel, int layers, int heads, int context, float dropout, boolean tiedHead) {
        public Config {
            require(vocabSize > 4, "vocabSize must exceed the 4 special tokens");
            require(dModel > 0 && heads > 0 && dModel % heads == 0, "dModel must be a positive multiple of heads");
            require(layers > 0, "layers must be positive");
            require(context > 1, "context must be at least 2");
            require(dropout >= 0 && dropout < 1, "dropout must be in [0, 1)");
        }

        /** The default policy for the task suite: 4 layers, width 128, 4 heads, 64 positions. */
        public static Config defaults(int vocabSize) {
            return new Config(vocabSize, 128, 4, 4, 64, 0.0f, true);
        }

        /** Parameters in the model (the tied head counted once). */
        public long parameterCount() {
            long perLayer = 2L * 2 * dModel + (3L * dModel * dModel + 3L * dModel) + (1L * dModel * dModel + dModel)
                    + (4L * dModel * dModel + 4L * dModel) + (4L * dModel * dModel + dModel);
            return (long) vocabSize * dModel + (long) context * dModel + layers * perLayer + 2L * dModel
                    + (tiedHead ? 0 : (long) vocabSize * dModel);
        }

        /**
         * Floating-point operations of one forward pass per token at sequence length {@code t}:
         * 2 per multiply-add in every matmul (the embeddings are lookups), plus attention's
         * scores and weighted sum (2·2·t·dModel per layer at full length, half that averaged
         * over a causal sequence).
         */
        public double forwardFlopsPerToken(int t) {
            double matmuls = 2.0 * (layers * 12.0 * dModel * dModel + (double) vocabSize * dModel);
            return matmuls + layers * 2.0 * t * dModel;
        }

        private static void require(boolean condition, String message) {
            if (!condition) {
                throw new IllegalArgumentException(message);
            }
        }
    }

    /** The parameters of one block. */
    private record Block(NDArray norm1Gain, NDArray norm1Bias, NDArray qkvWeight, NDArray qkvBias,
                         NDArray projWeight, NDArray projBias, NDArray norm2Gain, NDArray norm2Bias,
                         NDArray fcWeight, NDArray fcBias, NDArray outWeight, NDArray outBias) {}

    private static final float NEG_INF = -1e9f;

    private final Config config;
    private final CharTokenizer tokenizer;
    private final NDManager manager;
    private final ParameterSet parameters;
    private final NDArray tokenEmbedding;
    private final NDArray positionEmbedding;
    private final List<Block> blocks = new ArrayList<>();
    private final NDArray finalNormGain;
    private final NDArray finalNormBias;
    private final NDArray head;

    /**
     * A model with freshly initialised weights: normal(0, 0.02) matrices, the residual
     * projections scaled by 1/√(2·layers) as in GPT-2, zero biases, unit LayerNorm gains. The
     * values are drawn in Java from {@code seed}, so they are the same on every machine.
     */
    public Transformer(NDManager parent, Config config, CharTokenizer tokenizer, long seed) {
        if (config.vocabSize() != tokenizer.vocabularySize()) {
            throw new IllegalArgumentException("config vocabSize " + config.vocabSize()
                    + " differs from the tokenizer's " + tokenizer.vocabularySize());
        }
        this.config = config;
        this.tokenizer = tokenizer;
        this.manager = parent.newSubManager();
        this.parameters = new ParameterSet(manager);
        SplittableRandom random = new SplittableRandom(seed);
        int d = config.dModel();
        float residualStd = (float) (0.02 / Math.sqrt(2.0 * config.layers()));
        tokenEmbedding = parameters.normal("token_embedding", random, 0.02f, config.vocabSize(), d);
        positionEmbedding = parameters.normal("position_embedding", random, 0.02f, config.context(), d);
        for (int i = 0; i < config.layers(); i++) {
            String p = "block" + i + ".";
            blocks.add(new Block(
                    parameters.constant(p + "norm1.gain", 1f, d), parameters.constant(p + "norm1.bias", 0f, d),
                    parameters.normal(p + "attention.qkv.weight", random, 0.02f, 3 * d, d), parameters.constant(p + "attention.qkv.bias", 0f, 3 * d),
                    parameters.normal(p + "attention.proj.weight", random, residualStd, d, d), parameters.constant(p + "attention.proj.bias", 0f, d),
                    parameters.constant(p + "norm2.gain", 1f, d), parameters.constant(p + "norm2.bias", 0f, d),
                    parameters.normal(p + "mlp.fc.weight", random, 0.02f, 4 * d, d), parameters.constant(p + "mlp.fc.bias", 0f, 4 * d),
                    parameters.normal(p + "mlp.proj.weight", random, residualStd, d, 4 * d), parameters.constant(p + "mlp.proj.bias", 0f, d)));
        }
        finalNormGain = parameters.constant("final_norm.gain", 1f, d);
        finalNormBias = parameters.constant("final_norm.bias", 0f, d);
        head = config.tiedHead() ? tokenEmbedding : parameters.normal("head.weight", random, 0.02f, config.vocabSize(), d);
    }

    public Config config() {
        return config;
    }

    public CharTokenizer tokenizer() {
        return tokenizer;
    }

    /** Every parameter by name, in a fixed order (the order they are saved in). */
    public Map<String, NDArray> parameters() {
        return parameters.asMap();
    }

    // ---------------------------------------------------------------------------------------
    // The forward pass

    /**
     * Final hidden states {@code [B, T, d]} of {@code tokens [B, T]} at {@code positions [B, T]}
     * (int64), with an additive attention {@code mask} broadcastable to {@code [B, heads, T, K]}
     * over the K keys (cached and new). With a cache, the new keys and values are appended to it.
     */
    private NDArray forward(NDArray tokens, NDArray positions, NDArray mask, KvCache cache, boolean training) {
        NDArray x = embed(tokens, tokenEmbedding).add(embed(positions, positionEmbedding));
        x = dropout(x, training);
        for (int i = 0; i < blocks.size(); i++) {
            Block block = blocks.get(i);
            x = x.add(dropout(attention(norm(x, block.norm1Gain(), block.norm1Bias()), block, mask,
                    cache == null ? -1 : i, cache, training), training));
            x = x.add(dropout(mlp(norm(x, block.norm2Gain(), block.norm2Bias()), block), training));
        }
        return norm(x, finalNormGain, finalNormBias);
    }

    /** Causal self-attention: every head attends to the keys the mask allows. */
    private NDArray attention(NDArray x, Block block, NDArray mask, int layer, KvCache cache, boolean training) {
        long batch = x.getShape().get(0);
        long time = x.getShape().get(1);
        int heads = config.heads();
        int headSize = config.dModel() / heads;
        NDList qkv = Linear.linear(x, block.qkvWeight(), block.qkvBias()).singletonOrThrow().split(3, 2);
        NDArray q = splitHeads(qkv.get(0), batch, time, heads, headSize);
        NDArray k = splitHeads(qkv.get(1), batch, time, heads, headSize);
        NDArray v = splitHeads(qkv.get(2), batch, time, heads, headSize);
        if (cache != null) {
            k = cache.append(layer, k, v);
            v = cache.values(layer);
        }
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(Scalars.constant(q, 1.0 / Math.sqrt(headSize))).add(mask);
        NDArray weights = dropout(scores.softmax(-1), training);
        NDArray y = weights.matMul(v).transpose(0, 2, 1, 3).reshape(batch, time, config.dModel());
        return Linear.linear(y, block.projWeight(), block.projBias()).singletonOrThrow();
    }

    private static NDArray splitHeads(NDArray x, long batch, long time, int heads, int headSize) {
        return x.reshape(batch, time, heads, headSize).transpose(0, 2, 1, 3);
    }

    /** The position-wise MLP: widen 4×, GELU, project back. */
    private static NDArray mlp(NDArray x, Block block) {
        NDArray hidden = Activation.gelu(Linear.linear(x, block.fcWeight(), block.fcBias()).singletonOrThrow());
        return Linear.linear(hidden, block.outWeight(), block.outBias()).singletonOrThrow();
    }

    private NDArray logits(NDArray hidden) {
        return Linear.linear(hidden, head).singletonOrThrow();
    }

    private static NDArray embed(NDArray ids, NDArray table) {
        return Embedding.embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
    }

    private static NDArray norm(NDArray x, NDArray gain, NDArray bias) {
        return LayerNorm.layerNorm(x, new Shape(x.getShape().get(2)), gain, bias, 1e-5f).singletonOrThrow();
    }

    private NDArray dropout(NDArray x, boolean training) {
        return training && config.dropout() > 0 ? Dropout.dropout(x, config.dropout(), true).singletonOrThrow() : x;
    }

    /** Keys and values of the tokens seen so far, per layer, for incremental decoding. */
    private final class KvCache {
        private final NDArray[] keys = new NDArray[config.layers()];
        private final NDArray[] values = new NDArray[config.layers()];
        private final NDManager cacheManager;

        KvCache(NDManager cacheManager) {
            this.cacheManager = cacheManager;
        }

        /** Appends the new keys and values along time; returns all keys. */
        NDArray append(int layer, NDArray k, NDArray v) {
            keys[layer] = concat(keys[layer], k);
            values[layer] = concat(values[layer], v);
            return keys[layer];
        }

        NDArray values(int layer) {
            return values[layer];
        }

        private NDArray concat(NDArray old, NDArray fresh) {
            NDArray all = old == null ? fresh.duplicate() : old.concat(fresh, 2);
            all.attach(cacheManager);
            if (old != null) {
                old.close();
            }
            return all;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Sampling

    /** How to sample: temperature (0 means greedy), nucleus mass, and a cap on new tokens. */
    public record SamplingConfig(float temperature, float topP, int maxNewTokens) {
        public SamplingConfig {
            if (!(temperature >= 0)) {
                throw new IllegalArgumentException("temperature must be ≥ 0, got " + temperature);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
            }
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("maxNewTokens must be ≥ 1, got " + maxNewTokens);
            }
        }

        /** The temperature the recorded log-probs are taken at: 1 for greedy decoding. */
        public float scoringTemperature() {
            return temperature > 0 ? temperature : 1f;
        }
    }

    /** Why a completion stopped. */
    public enum Finish { EOS, LENGTH }

    /**
     * One sampled response: its tokens (ending with EOS when it finished there) and the
     * log-probability of each under the policy's distribution at the sampling temperature
     * (before nucleus truncation: the distribution a learner can recompute and differentiate).
     */
    public record Completion(int[] tokens, float[] logProbs, Finish finish) {
        public double logProb() {
            double sum = 0;
            for (float logProb : logProbs) {
                sum += logProb;
            }
            return sum;
        }
    }

    /**
     * Samples one completion per prompt, batched, with a KV cache: the prompts are left-padded
     * into one block and run once, then each step feeds only the newest token. A row stops at
     * EOS, after {@code maxNewTokens}, or when the context is full. Row b draws its randomness
     * from its own stream of {@code seed}, so its completion does not depend on the others.
     */
    public List<Completion> sample(List<int[]> prompts, SamplingConfig sampling, long seed) {
        return generate(prompts, sampling, seed, true);
    }

    /**
     * The same as {@link #sample} but recomputing the whole prefix at every step instead of
     * using the cache: the baseline the KV cache is measured against.
     */
    public List<Completion> sampleWithoutCache(List<int[]> prompts, SamplingConfig sampling, long seed) {
        return generate(prompts, sampling, seed, false);
    }

    private List<Completion> generate(List<int[]> prompts, SamplingConfig sampling, long seed, boolean useCache) {
        int batch = prompts.size();
        int promptWidth = 0;
        for (int[] prompt : prompts) {
            if (prompt.length == 0 || prompt.length > config.context()) {
                throw new IllegalArgumentException("a prompt must have 1.." + config.context() + " tokens, got " + prompt.length);
            }
            promptWidth = Math.max(promptWidth, prompt.length);
        }
        int[] limit = new int[batch];
        int longest = 0;
        SplittableRandom[] random = new SplittableRandom[batch];
        SplittableRandom seeds = new SplittableRandom(seed);
        for (int b = 0; b < batch; b++) {
            limit[b] = Math.min(sampling.maxNewTokens(), config.context() + 1 - prompts.get(b).length);
            longest = Math.max(longest, limit[b]);
            random[b] = seeds.split();
        }
        int[][] tokens = new int[batch][longest];
        float[][] logProbs = new float[batch][longest];
        int[] length = new int[batch];
        boolean[] done = new boolean[batch];

        // Column c of row b holds its token at position c - pad[b]; pad columns are never attended.
        int width = promptWidth + longest;
        long[] sequence = new long[batch * width];
        int[] pad = new int[batch];
        for (int b = 0; b < batch; b++) {
            int[] prompt = prompts.get(b);
            pad[b] = promptWidth - prompt.length;
            for (int i = 0; i < prompt.length; i++) {
                sequence[b * width + pad[b] + i] = prompt[i];
            }
        }
        try (GradMode noGrad = GradMode.off(); NDManager call = manager.newSubManager()) {
            KvCache cache = useCache ? new KvCache(call) : null;
            int fed = 0; // columns already in the cache
            int end = promptWidth; // columns written so far
            for (int step = 0; step < longest; step++) {
                float[] stepLogProbs;
                try (NDManager scratch = call.newSubManager()) {
                    int from = useCache ? fed : 0;
                    NDArray hidden = forward(columns(scratch, sequence, batch, width, from, end),
                            positions(scratch, pad, from, end), paddedMask(scratch, pad, from, end),
                            cache, false);
                    NDArray last = hidden.get(":, -1, :");
                    stepLogProbs = logits(last).div(sampling.scoringTemperature()).logSoftmax(-1).toFloatArray();
                }
                fed = end;
                int vocab = config.vocabSize();
                boolean anyLeft = false;
                for (int b = 0; b < batch; b++) {
                    if (done[b]) {
                        continue;
                    }
                    int token = draw(stepLogProbs, b * vocab, vocab, sampling, random[b]);
                    tokens[b][length[b]] = token;
                    logProbs[b][length[b]] = stepLogProbs[b * vocab + token];
                    length[b]++;
                    sequence[b * width + end] = token;
                    done[b] = token == CharTokenizer.EOS || length[b] == limit[b];
                    anyLeft |= !done[b];
                }
                end++;
                if (!anyLeft) {
                    break;
                }
            }
        }
        List<Completion> completions = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            int n = length[b];
            Finish finish = tokens[b][n - 1] == CharTokenizer.EOS ? Finish.EOS : Finish.LENGTH;
            completions.add(new Completion(Arrays.copyOf(tokens[b], n), Arrays.copyOf(logProbs[b], n), finish));
        }
        return completions;
    }

    /**
     * Draws a token from one row of log-probs: greedy at temperature 0; otherwise from the
     * smallest set of most likely tokens whose mass reaches topP, renormalised.
     */
    private static int draw(float[] logProbs, int offset, int vocab, SamplingConfig sampling, SplittableRandom random) {
        if (sampling.temperature() == 0) {
            int best = 0;
            for (int i = 1; i < vocab; i++) {
                if (logProbs[offset + i] > logProbs[offset + best]) {
                    best = i;
                }
            }
            return best;
        }
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(logProbs[offset + b], logProbs[offset + a]));
        double[] mass = new double[vocab];
        double total = 0;
        int kept = 0;
        while (kept < vocab && (kept == 0 || total < sampling.topP())) {
            total += Math.exp(logProbs[offset + order[kept]]);
            mass[kept] = total;
            kept++;
        }
        double u = random.nextDouble() * total;
        for (int i = 0; i < kept; i++) {
            if (u < mass[i]) {
                return order[i];
            }
        }
        return order[kept - 1];
    }

    private static NDArray columns(NDManager m, long[] sequence, int batch, int width, int from, int to) {
        long[] block = new long[batch * (to - from)];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(sequence, b * width + from, block, b * (to - from), to - from);
        }
        return m.create(block, new Shape(batch, to - from));
    }

    /**
     * Positions of columns from..to-1: pad columns get 0, and rows that have finished keep being
     * fed (their outputs unused) at the last position rather than past the context.
     */
    private NDArray positions(NDManager m, int[] pad, int from, int to) {
        int batch = pad.length;
        long[] block = new long[batch * (to - from)];
        for (int b = 0; b < batch; b++) {
            for (int c = from; c < to; c++) {
                block[b * (to - from) + c - from] = Math.min(config.context() - 1, Math.max(0, c - pad[b]));
            }
        }
        return m.create(block, new Shape(batch, to - from));
    }

    /**
     * Additive mask {@code [B, 1, to - from, to]} for queries at columns from..to-1 over keys at
     * columns 0..to-1: a key is visible when it is not padding and not in the future.
     */
    private static NDArray paddedMask(NDManager m, int[] pad, int from, int to) {
        int queries = to - from;
        float[] mask = new float[pad.length * queries * to];
        for (int b = 0; b < pad.length; b++) {
            for (int q = 0; q < queries; q++) {
                for (int k = 0; k < to; k++) {
                    boolean visible = k >= pad[b] && k <= from + q;
                    mask[(b * queries + q) * to + k] = visible ? 0f : NEG_INF;
                }
            }
        }
        return m.create(mask, new Shape(pad.length, 1, queries, to));
    }

    /** Additive causal mask {@code [1, 1, T, T]} for right-padded sequences. */
    private static NDArray causalMask(NDManager m, int time) {
        float[] mask = new float[time * time];
        for (int q = 0; q < time; q++) {
            for (int k = q + 1; k < time; k++) {
                mask[q * time + k] = NEG_INF;
            }
        }
        return m.create(mask, new Shape(1, 1, time, time));
    }

    // ---------------------------------------------------------------------------------------
    // Scoring and embeddings

    /**
     * Per-token log-probs of the responses given their prompts, at {@code temperature}, recorded
     * for gradients when called inside a gradient collector. {@code values} and {@code mask} are
     * {@code [B, T]} over target positions; only response tokens are unmasked (values are zero
     * elsewhere), in order, so row b's unmasked values are its responses' tokens' log-probs.
     * Dropout applies when {@code training}.
     */
    public TokenLogProbs logProbs(NDManager out, List<int[]> prompts, List<int[]> responses, float temperature,
                                  boolean training) {
        if (prompts.size() != responses.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + responses.size() + " responses");
        }
        int batch = prompts.size();
        int time = 0;
        for (int b = 0; b < batch; b++) {
            int inputLength = prompts.get(b).length + responses.get(b).length - 1;
            if (prompts.get(b).length == 0 || responses.get(b).length == 0 || inputLength > config.context()) {
                throw new IllegalArgumentException("prompt and response must be non-empty and fit "
                        + (config.context() + 1) + " tokens together, got " + prompts.get(b).length + " + "
                        + responses.get(b).length);
            }
            time = Math.max(time, inputLength);
        }
        long[] inputs = new long[batch * time];
        long[] targets = new long[batch * time];
        float[] mask = new float[batch * time];
        for (int b = 0; b < batch; b++) {
            int[] prompt = prompts.get(b);
            int[] response = responses.get(b);
            int length = prompt.length + response.length;
            for (int t = 0; t < length - 1; t++) {
                inputs[b * time + t] = t < prompt.length ? prompt[t] : response[t - prompt.length];
                int next = t + 1;
                targets[b * time + t] = next < prompt.length ? prompt[next] : response[next - prompt.length];
                mask[b * time + t] = next >= prompt.length ? 1f : 0f;
            }
        }
        // The token ids go in `out`, not the scratch: embedding's and gather's backward read them,
        // and an array made from Java data borrows that memory, which a collection frees once the
        // array is closed, long before the caller's backward.
        NDArray inputIds = out.create(inputs, new Shape(batch, time));
        NDArray targetIds = out.create(targets, new Shape(batch, time, 1));
        NDArray maskArray = out.create(mask, new Shape(batch, time));
        try (NDManager scratch = out.newSubManager()) {
            NDArray hidden = forward(inputIds, rightPaddedPositions(scratch, batch, time), causalMask(scratch, time), null,
                    training);
            NDArray logits = logits(hidden);
            NDArray values = logits.div(Scalars.constant(logits, temperature)).logSoftmax(-1).gather(targetIds, 2)
                    .reshape(batch, time).mul(maskArray);
            values.attach(out);
            return new TokenLogProbs(values, maskArray);
        }
    }

    private static NDArray rightPaddedPositions(NDManager m, int batch, int time) {
        return m.arange(0, time, 1, DataType.INT64).expandDims(0).repeat(0, batch);
    }

    /**
     * How a prompt's final hidden states become one embedding: their mean over the prompt's tokens
     * (the design's e(x)), the last token's (the state the answer is sampled from), or both side by
     * side. {@link #toString} is the training key's value.
     */
    public enum Pooling {
        MEAN("mean"), LAST("last"), MEAN_AND_LAST("mean-and-last");

        private final String key;

        Pooling(String key) {
            this.key = key;
        }

        /** The embedding's width for a model of width {@code dModel}. */
        public int width(int dModel) {
            return this == MEAN_AND_LAST ? 2 * dModel : dModel;
        }

        @Override
        public String toString() {
            return key;
        }
    }

    /**
     * Prompt embeddings {@code [B, pooling.width(d)]} from the final hidden states over each
     * prompt's tokens, without gradients (the partition function's input, computed once with π_ref).
     */
    public NDArray embedPrompts(NDManager out, List<int[]> prompts, Pooling pooling) {
        int batch = prompts.size();
        int time = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        if (time > config.context()) {
            throw new IllegalArgumentException("a prompt has " + time + " tokens; the context is " + config.context());
        }
        long[] inputs = new long[batch * time];
        float[] meanWeights = new float[batch * time];
        float[] lastWeights = new float[batch * time];
        for (int b = 0; b < batch; b++) {
            int[] prompt = prompts.get(b);
            for (int t = 0; t < prompt.length; t++) {
                inputs[b * time + t] = prompt[t];
                meanWeights[b * time + t] = 1f / prompt.length;
            }
            lastWeights[b * time + prompt.length - 1] = 1f;
        }
        try (GradMode noGrad = GradMode.off(); NDManager scratch = out.newSubManager()) {
            NDArray hidden = forward(scratch.create(inputs, new Shape(batch, time)), rightPaddedPositions(scratch, batch, time),
                    causalMask(scratch, time), null, false);
            NDArray mean = hidden.mul(scratch.create(meanWeights, new Shape(batch, time, 1))).sum(new int[] {1});
            NDArray last = hidden.mul(scratch.create(lastWeights, new Shape(batch, time, 1))).sum(new int[] {1});
            NDArray embedding = switch (pooling) {
                case MEAN -> mean;
                case LAST -> last;
                case MEAN_AND_LAST -> mean.concat(last, 1);
            };
            embedding.attach(out);
            return embedding;
        }
    }

    /** {@link #embedPrompts} of any number of prompts, a chunk at a time, as Java values row after row. */
    public float[] embedAll(List<int[]> prompts, Pooling pooling) {
        int width = pooling.width(config.dModel());
        float[] values = new float[prompts.size() * width];
        int chunk = 1024;
        try (NDManager scratch = NDManager.newBaseManager()) {
            for (int start = 0; start < prompts.size(); start += chunk) {
                // Each chunk's array is freed once copied: native memory stays one chunk, not the pool again.
                try (NDArray rows = embedPrompts(scratch, prompts.subList(start, Math.min(prompts.size(), start + chunk)), pooling)) {
                    float[] copied = rows.toFloatArray();
                    System.arraycopy(copied, 0, values, start * width, copied.length);
                }
            }
        }
        return values;
    }

    // ---------------------------------------------------------------------------------------
    // Weights

    /** The weights, deterministic bytes: see {@link Weights}. */
    public byte[] toBytes() {
        return Weights.write(this);
    }

    /**
     * {@code values} in this model's weights format: copies of its parameters (taken with
     * {@code duplicate()}, same names and order), so that another thread can serialise a version
     * while this model trains on.
     */
    public byte[] toBytes(Map<String, NDArray> values) {
        return Weights.write(this, values);
    }

    /** A model with the weights in {@code bytes}. */
    public static Transformer fromBytes(NDManager parent, byte[] bytes) {
        return Weights.read(parent, bytes);
    }

    /**
     * Replaces every parameter's values with those in {@code bytes} (same architecture and
     * vocabulary), copying into the existing arrays: how a running service takes new weights
     * without reloading the model.
     */
    public void copyFrom(byte[] bytes) {
        Weights.copyInto(this, bytes);
    }

    /** Hex SHA-256 of {@link #toBytes()}: the version checksum of these weights. */
    public String checksum() {
        return Weights.sha256(toBytes());
    }

    @Override
    public void close() {
        manager.close();
    }
}
