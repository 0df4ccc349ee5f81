package io.pacedrl.topics;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.clients.ApiVersions;
import org.apache.kafka.clients.ClientResponse;
import org.apache.kafka.clients.ClientUtils;
import org.apache.kafka.clients.ManualMetadataUpdater;
import org.apache.kafka.clients.MetadataRecoveryStrategy;
import org.apache.kafka.clients.NetworkClient;
import org.apache.kafka.clients.NetworkClientUtils;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.message.WriteTxnMarkersRequestData;
import org.apache.kafka.common.message.WriteTxnMarkersResponseData;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.network.Selector;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersResponse;
import org.apache.kafka.common.utils.LogContext;
import org.apache.kafka.common.utils.Time;

/**
 * Writes COMMIT markers for transactions a coordinator committed but whose marker never reached a
 * partition. Kafka's Admin client can only abort ({@code abortTransaction}, which sends the same
 * WriteTxnMarkers request with the abort result); a committed transaction aborted that way loses its
 * records while its consumer offsets, marked elsewhere, stay committed. This sends the request as
 * the Admin client does, with the commit result, over Kafka's own network client (internal classes of
 * kafka-clients 4.3; the request is a public protocol API, version-negotiated).
 */
final class CommitMarkers {
    private static final int TIMEOUT_MS = 30_000;

    private CommitMarkers() {}

    /** Commits each transaction on its partition, sending each to the leader it is listed under. */
    static void write(Map<String, Object> clientConfig, Map<Node, List<HangingTransactions.Hanging>> byLeader) {
        AdminClientConfig config = new AdminClientConfig(clientConfig);
        Time time = Time.SYSTEM;
        LogContext context = new LogContext("[commit markers] ");
        try (Metrics metrics = new Metrics();
                NetworkClient client = new NetworkClient(
                        new Selector(TIMEOUT_MS, metrics, time, "commit-markers", ClientUtils.createChannelBuilder(config, time, context),
                                context),
                        new ManualMetadataUpdater(), "pacedrl-commit-markers", 1, 100, 1_000, 64 * 1024, 64 * 1024, TIMEOUT_MS, 10_000,
                        TIMEOUT_MS, time, true, new ApiVersions(), context, MetadataRecoveryStrategy.NONE)) {
            for (Map.Entry<Node, List<HangingTransactions.Hanging>> entry : byLeader.entrySet()) {
                Node leader = entry.getKey();
                if (!NetworkClientUtils.awaitReady(client, leader, time, TIMEOUT_MS)) {
                    throw new IllegalStateException("cannot reach " + leader + " to commit " + entry.getValue());
                }
                ClientResponse response = NetworkClientUtils.sendAndReceive(client, client.newClientRequest(leader.idString(),
                        new WriteTxnMarkersRequest.Builder(request(entry.getValue())), time.milliseconds(), true), time);
                List<String> failed = failures(((WriteTxnMarkersResponse) response.responseBody()).data());
                if (!failed.isEmpty()) {
                    throw new IllegalStateException("the broker refused commit markers: " + String.join(", ", failed));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot write commit markers: " + e.getMessage(), e);
        }
    }

    private static WriteTxnMarkersRequestData request(Collection<HangingTransactions.Hanging> transactions) {
        List<WriteTxnMarkersRequestData.WritableTxnMarker> markers = new ArrayList<>();
        for (HangingTransactions.Hanging transaction : transactions) {
            markers.add(new WriteTxnMarkersRequestData.WritableTxnMarker()
                    .setProducerId(transaction.producerId())
                    .setProducerEpoch((short) transaction.producerEpoch())
                    .setCoordinatorEpoch(transaction.coordinatorEpoch())
                    .setTransactionResult(true)
                    .setTopics(List.of(new WriteTxnMarkersRequestData.WritableTxnMarkerTopic()
                            .setName(transaction.partition().topic())
                            .setPartitionIndexes(List.of(transaction.partition().partition())))));
        }
        return new WriteTxnMarkersRequestData().setMarkers(markers);
    }

    private static List<String> failures(WriteTxnMarkersResponseData response) {
        return response.markers().stream().flatMap(marker -> marker.topics().stream().flatMap(topic -> topic.partitions().stream()
                        .filter(partition -> partition.errorCode() != Errors.NONE.code())
                        .map(partition -> topic.name() + "-" + partition.partitionIndex() + " (producer " + marker.producerId() + "): "
                                + Errors.forCode(partition.errorCode()).message())))
                .collect(Collectors.toList());
    }
}
