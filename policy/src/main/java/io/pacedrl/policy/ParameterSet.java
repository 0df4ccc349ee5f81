package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A model's trainable arrays by name, in creation order, all in one manager. Initial values are
 * drawn in Java from a seed, so they are the same on every machine and engine.
 */
public final class ParameterSet {
    private final NDManager manager;
    private final Map<String, NDArray> parameters = new LinkedHashMap<>();

    public ParameterSet(NDManager manager) {
        this.manager = manager;
    }

    /** A parameter drawn from normal(0, std²). */
    public NDArray normal(String name, SplittableRandom random, double std, long... shape) {
        float[] values = new float[Math.toIntExact(new Shape(shape).size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * std);
        }
        return register(name, manager.create(values, new Shape(shape)));
    }

    /** A parameter filled with {@code value}. */
    public NDArray constant(String name, float value, long... shape) {
        return register(name, manager.full(new Shape(shape), value));
    }

    private NDArray register(String name, NDArray parameter) {
        parameter.setName(name);
        parameter.setRequiresGradient(true);
        parameters.put(name, parameter);
        return parameter;
    }

    /** Every parameter by name, in creation order. */
    public Map<String, NDArray> asMap() {
        return Collections.unmodifiableMap(parameters);
    }
}
