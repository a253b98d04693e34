package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** BEGIN: a transaction whose commit record is at {@code finalLsn}. */
public record Begin(Lsn finalLsn, Instant commitTime, long xid) implements PgOutputMessage {}
