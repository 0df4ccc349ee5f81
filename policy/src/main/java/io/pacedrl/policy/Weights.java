package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The weights file: a fixed header (magic, format version, the architecture, the tokenizer's
 * version and alphabet), then every parameter in the model's order as its name, shape and
 * little-endian float32 values. The same weights always give the same bytes, so the SHA-256 of
 * the bytes identifies a version.
 */
public final class Weights {
    private static final String MAGIC = "paced-rl weights";
    private static final int FORMAT = 1;

    private Weights() {}

    /** A weights file that cannot be read, or that does not fit the model it is loaded into. */
    public static final class FormatException extends IllegalArgumentException {
        public FormatException(String message) {
            super(message);
        }
    }

    static byte[] write(Transformer model) {
        return write(model, model.parameters());
    }

    /** {@code values} (the model's parameters, or copies of them in the same order) in the model's format. */
    static byte[] write(Transformer model, Map<String, NDArray> values) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeUTF(MAGIC);
            out.writeInt(FORMAT);
            Transformer.Config c = model.config();
            out.writeInt(c.vocabSize());
            out.writeInt(c.dModel());
            out.writeInt(c.layers());
            out.writeInt(c.heads());
            out.writeInt(c.context());
            out.writeFloat(c.dropout());
            out.writeBoolean(c.tiedHead());
            out.writeUTF(model.tokenizer().version());
            out.writeUTF(model.tokenizer().alphabet());
            out.writeInt(values.size());
            for (Map.Entry<String, NDArray> parameter : values.entrySet()) {
                out.writeUTF(parameter.getKey());
                long[] shape = parameter.getValue().getShape().getShape();
                out.writeInt(shape.length);
                for (long dimension : shape) {
                    out.writeLong(dimension);
                }
                float[] floats = parameter.getValue().toFloatArray();
                ByteBuffer data = ByteBuffer.allocate(floats.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                data.asFloatBuffer().put(floats);
                out.write(data.array());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static Transformer read(NDManager manager, byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            Header header = Header.read(in);
            Transformer model = new Transformer(manager, header.config, header.tokenizer, 0);
            try {
                readParameters(in, model);
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
            return model;
        } catch (IOException e) {
            throw new FormatException("truncated or corrupt weights: " + e.getMessage());
        }
    }

    static void copyInto(Transformer model, byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            Header header = Header.read(in);
            if (!header.config.equals(model.config())) {
                throw new FormatException("weights are for " + header.config + ", the model is " + model.config());
            }
            if (!header.tokenizer.version().equals(model.tokenizer().version())
                    || !header.tokenizer.alphabet().equals(model.tokenizer().alphabet())) {
                throw new FormatException("weights use vocabulary " + header.tokenizer.version()
                        + ", the model " + model.tokenizer().version());
            }
            readParameters(in, model);
        } catch (IOException e) {
            throw new FormatException("truncated or corrupt weights: " + e.getMessage());
        }
    }

    /**
     * Reads every parameter before writing any, so a bad file leaves the model as it was.
     */
    private static void readParameters(DataInputStream in, Transformer model) throws IOException {
        Map<String, NDArray> parameters = model.parameters();
        int count = in.readInt();
        if (count != parameters.size()) {
            throw new FormatException("weights have " + count + " parameters, the model " + parameters.size());
        }
        float[][] values = new float[count][];
        int i = 0;
        for (Map.Entry<String, NDArray> parameter : parameters.entrySet()) {
            String name = in.readUTF();
            long[] shape = new long[in.readInt()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = in.readLong();
            }
            if (!name.equals(parameter.getKey()) || !new Shape(shape).equals(parameter.getValue().getShape())) {
                throw new FormatException("weights have " + name + " " + new Shape(shape) + " where the model has "
                        + parameter.getKey() + " " + parameter.getValue().getShape());
            }
            byte[] data = new byte[Math.toIntExact(new Shape(shape).size() * Float.BYTES)];
            in.readFully(data);
            values[i] = new float[data.length / Float.BYTES];
            ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values[i]);
            i++;
        }
        if (in.read() != -1) {
            throw new FormatException("trailing bytes after the last parameter");
        }
        try (GradMode noGrad = GradMode.off()) {
            i = 0;
            for (NDArray parameter : parameters.values()) {
                parameter.set(values[i++]);
            }
        }
    }

    public static void save(Transformer model, Path file) throws IOException {
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(temporary, model.toBytes());
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    public static Transformer load(NDManager manager, Path file) throws IOException {
        return read(manager, Files.readAllBytes(file));
    }

    /** Hex SHA-256 of {@code bytes}. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always provides SHA-256", e);
        }
    }

    private record Header(Transformer.Config config, CharTokenizer tokenizer) {
        static Header read(DataInputStream in) throws IOException {
            String magic;
            try {
                magic = in.readUTF();
            } catch (IOException e) {
                throw new FormatException("not a paced-rl weights file");
            }
            if (!MAGIC.equals(magic)) {
                throw new FormatException("not a paced-rl weights file");
            }
            int format = in.readInt();
            if (format != FORMAT) {
                throw new FormatException("weights format " + format + " is not the supported " + FORMAT);
            }
            Transformer.Config config = new Transformer.Config(in.readInt(), in.readInt(), in.readInt(), in.readInt(),
                    in.readInt(), in.readFloat(), in.readBoolean());
            CharTokenizer tokenizer = new CharTokenizer(in.readUTF(), in.readUTF());
            return new Header(config, tokenizer);
        }
    }
}
