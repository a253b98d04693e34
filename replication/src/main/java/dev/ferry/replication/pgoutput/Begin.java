package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** Start of a transaction; {@code finalLsn} is the LSN of its commit record. */
public record Begin(Lsn finalLsn, Instant commitTime, long xid) implements PgOutputMessage {}
