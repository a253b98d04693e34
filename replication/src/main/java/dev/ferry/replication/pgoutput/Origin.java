package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

/** The replication origin the transaction came from, sent after Begin (or StreamStart) when it has one. */
public record Origin(Lsn commitLsn, String name) implements PgOutputMessage {}
