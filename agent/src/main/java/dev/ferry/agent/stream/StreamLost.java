package dev.ferry.agent.stream;

/**
 * The replication stream failed under the apply thread: the reader thread's failure (its cause), carried over to
 * the thread that decides what happens next. {@link StreamStage} reconnects when the cause is a lost connection.
 */
public final class StreamLost extends RuntimeException {
    StreamLost(Exception cause) {
        super("the replication stream failed: " + cause.getMessage(), cause);
    }
}
