package dev.ferry.replication.stream;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.PgOutputMessage;

/**
 * A decoded message with the WAL position the server sent it at (XLogData's start): for a change its record, for
 * Commit the end of the commit record. NOTE: the server sends 0/0 for messages written outside a change (Relation,
 * Type, and on some versions Begin), so use the LSNs inside Begin/Commit, not this, to track transactions.
 */
public record WalMessage(Lsn walStart, PgOutputMessage message) {}
