package io.pacedrl.registry;

/**
 * An error answered by a Confluent-protocol schema registry: the HTTP status and the registry's own
 * error code (40401 subject not found, 409 incompatible schema, ...), as in Confluent's REST API.
 */
public class SchemaRegistryException extends RuntimeException {
    private final int httpStatus;
    private final int errorCode;

    public SchemaRegistryException(RegistryError error, String message) {
        this(error.httpStatus(), error.code(), message, null);
    }

    public SchemaRegistryException(int httpStatus, int errorCode, String message, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
        this.errorCode = errorCode;
    }

    public int httpStatus() {
        return httpStatus;
    }

    public int errorCode() {
        return errorCode;
    }

    public boolean is(RegistryError error) {
        return errorCode == error.code();
    }
}
