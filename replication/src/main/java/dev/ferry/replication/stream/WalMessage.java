package dev.ferry.replication.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.PgOutputMessage;

/**
 * A decoded message and where it came from. {@code payload} holds the message's raw pgoutput bytes, so a consumer can
 * keep it (on disk, say) and decode it again later with the same decoder.
 */
public record WalMessage(Lsn walStart, PgOutputMessage message, byte[] payload) {}
