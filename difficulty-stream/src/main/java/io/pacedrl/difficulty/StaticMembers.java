package io.pacedrl.difficulty;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.MemberToRemove;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream threads' static members that nothing will ever rejoin as. Kafka Streams gives the
 * consumer of stream thread {@code n} the static member id {@code <instance id>-n}; a thread
 * replaced after a failure gets the next free index, while the failed one still holds its own. So
 * the failed thread's member, and, once the process restarts with threads 1..threads again, the
 * replacement's, each hold up the group's next rebalance until their session times out: 45 s with
 * no scheduling, seen twice in one fault campaign. They are removed instead (KIP-345's
 * {@code removeMembersFromConsumerGroup}).
 */
final class StaticMembers {
    private static final Logger log = LoggerFactory.getLogger(StaticMembers.class);
    private static final String STREAM_THREAD = "-StreamThread-";

    private StaticMembers() {}

    /**
     * The static member id of the stream thread named {@code threadName} in an instance whose id is
     * {@code instanceId}; empty when it is not a stream thread.
     */
    static Optional<String> ofThread(String instanceId, String threadName) {
        int at = threadName.lastIndexOf(STREAM_THREAD);
        if (at < 0) {
            return Optional.empty();
        }
        String index = threadName.substring(at + STREAM_THREAD.length());
        return index(index).isPresent() ? Optional.of(instanceId + "-" + index) : Optional.empty();
    }

    /**
     * Of the group's static member ids, those of {@code instanceId}'s threads that a process of
     * {@code threads} stream threads does not rejoin as (indexes above {@code threads}).
     */
    static List<String> strays(String instanceId, int threads, Collection<String> memberInstanceIds) {
        String prefix = instanceId + "-";
        return memberInstanceIds.stream().filter(id -> id.startsWith(prefix))
                .filter(id -> index(id.substring(prefix.length())).filter(n -> n > threads).isPresent()).sorted().toList();
    }

    /** The thread index {@code text} writes, when it is one: digits only (nine at most, so it fits). */
    private static Optional<Integer> index(String text) {
        return !text.isEmpty() && text.length() <= 9 && text.chars().allMatch(c -> c >= '0' && c <= '9')
                ? Optional.of(Integer.parseInt(text)) : Optional.empty();
    }

    /** The static member ids in consumer group {@code groupId}; none where the group does not exist yet. */
    static List<String> of(Admin admin, String groupId) throws InterruptedException, ExecutionException {
        try {
            return admin.describeConsumerGroups(List.of(groupId)).describedGroups().get(groupId).get().members().stream()
                    .map(MemberDescription::groupInstanceId).flatMap(Optional::stream).toList();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) {
                return List.of();
            }
            throw e;
        }
    }

    /** Removes static members {@code instanceIds} from consumer group {@code groupId}; one already gone is no error. */
    static void remove(Admin admin, String groupId, Collection<String> instanceIds) throws InterruptedException, ExecutionException {
        if (instanceIds.isEmpty()) {
            return;
        }
        try {
            admin.removeMembersFromConsumerGroup(groupId, new RemoveMembersFromConsumerGroupOptions(
                    instanceIds.stream().map(MemberToRemove::new).toList())).all().get();
            // A warning: it follows a thread's failure, or a restart after one.
            log.warn("removed static member(s) {} from group {}: no thread of this instance will rejoin as them", instanceIds, groupId);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof UnknownMemberIdException)) {
                throw e;
            }
        }
    }

    /**
     * Once stream thread {@code failed} has ended (its consumer closed), removes its static member
     * {@code member} from {@code groupId}, from a thread of its own: the handler that replaces it
     * runs in the failing thread.
     */
    static void removeWhenEnded(Thread failed, Map<String, Object> adminConfig, String groupId, String member) {
        Thread remover = new Thread(() -> {
            try {
                failed.join(60_000);
                try (Admin admin = Admin.create(adminConfig)) {
                    remove(admin, groupId, List.of(member));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | RuntimeException e) {
                log.warn("could not remove static member {} of a failed stream thread from group {} (its replacement waits for its "
                        + "session to time out): {}", member, groupId, e.toString());
            }
        }, "static-member-remover");
        remover.setDaemon(true);
        remover.start();
    }
}
