package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Scalar operands for ops inside a gradient graph. DJL's {@code x.mul(2.0)} wraps the number in an
 * array that borrows Java memory and closes it at once; when the op's backward reads that operand
 * (a product, a quotient), a collection before backward frees the memory and the gradient is
 * garbage. A scalar made here is allocated by libtorch, so the graph keeps it alive itself.
 */
public final class Scalars {
    private Scalars() {}

    /** {@code value} as a 0-d array of {@code like}'s type, on its manager and device. */
    public static NDArray constant(NDArray like, double value) {
        return like.getManager().full(new Shape(), (float) value, like.getDataType());
    }
}
