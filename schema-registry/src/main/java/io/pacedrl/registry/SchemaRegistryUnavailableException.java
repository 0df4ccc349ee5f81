package io.pacedrl.registry;

/** The registry could not be reached or did not answer in time: a transient failure, worth retrying. */
public final class SchemaRegistryUnavailableException extends SchemaRegistryException {
    public SchemaRegistryUnavailableException(String message, Throwable cause) {
        super(0, 0, message, cause);
    }
}
