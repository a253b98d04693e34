package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** COMMIT: the commit record is at {@code commitLsn}; {@code endLsn} is the position just after it. */
public record Commit(int flags, Lsn commitLsn, Lsn endLsn, Instant commitTime) implements PgOutputMessage {}
