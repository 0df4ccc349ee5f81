package io.pacedrl.topics;

import java.util.List;

/** Topics exist on the cluster with settings other than the catalogue's; the message names each one. */
public final class TopicMismatchException extends RuntimeException {
    private final List<String> mismatches;

    public TopicMismatchException(List<String> mismatches) {
        super("topics exist with settings other than the catalogue's (fix or delete them): "
                + String.join("; ", mismatches));
        this.mismatches = List.copyOf(mismatches);
    }

    public List<String> mismatches() {
        return mismatches;
    }
}
