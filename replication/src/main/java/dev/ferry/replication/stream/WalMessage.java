package dev.ferry.replication.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.PgOutputMessage;

/**
 * A decoded message with the WAL position the server sent it at (XLogData's start): for Begin the transaction's
 * first record, for a change its record, for Commit the end of the commit record.
 */
public record WalMessage(Lsn walStart, PgOutputMessage message) {}
