package dev.ferry.agent.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.stream.WalMessage;

import java.util.List;

/** What the reader thread hands the apply thread, in stream order. */
sealed interface Received {
    /** Messages from the slot, in order: handed over in batches so the threads do not wake each other per message. */
    record Messages(List<WalMessage> wals, long bytes) implements Received {}

    /**
     * The stream was idle: the server has sent everything up to {@code position}. Handled in order, so once the apply
     * thread reaches it with nothing in flight, everything before it is applied and the position may be confirmed.
     */
    record Idle(Lsn position) implements Received {}

    /** The stream failed; the apply thread rethrows it. */
    record Failed(Exception failure) implements Received {}
}
