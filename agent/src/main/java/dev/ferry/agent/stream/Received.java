package dev.ferry.agent.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.stream.WalMessage;

/** What the reader thread hands the apply thread, in stream order. */
sealed interface Received {
    /** A message from the slot. */
    record Message(WalMessage wal) implements Received {}

    /**
     * The stream was idle: the server has sent everything up to {@code position}. Handled in order, so once the apply
     * thread reaches it with nothing in flight, everything before it is applied and the position may be confirmed.
     */
    record Idle(Lsn position) implements Received {}

    /** The stream failed; the apply thread rethrows it. */
    record Failed(Exception failure) implements Received {}
}
