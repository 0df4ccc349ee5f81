package io.pacedrl.registry;

/** The error codes of Confluent's Schema Registry REST API that this project answers or interprets. */
public enum RegistryError {
    NOT_FOUND(404, 404),
    SUBJECT_NOT_FOUND(404, 40401),
    VERSION_NOT_FOUND(404, 40402),
    SCHEMA_NOT_FOUND(404, 40403),
    SUBJECT_COMPATIBILITY_NOT_CONFIGURED(404, 40408),
    METHOD_NOT_ALLOWED(405, 405),
    INCOMPATIBLE_SCHEMA(409, 409),
    UNPROCESSABLE_ENTITY(422, 422),
    INVALID_SCHEMA(422, 42201),
    INVALID_VERSION(422, 42202),
    INVALID_COMPATIBILITY_LEVEL(422, 42203),
    STORE_ERROR(500, 50001),
    OPERATION_TIMEOUT(500, 50002);

    private final int httpStatus;
    private final int code;

    RegistryError(int httpStatus, int code) {
        this.httpStatus = httpStatus;
        this.code = code;
    }

    public int httpStatus() {
        return httpStatus;
    }

    public int code() {
        return code;
    }
}
