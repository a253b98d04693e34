package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** STREAM COMMIT: the streamed transaction {@code xid} committed. */
public record StreamCommit(long xid, int flags, Lsn commitLsn, Lsn endLsn, Instant commitTime) implements PgOutputMessage {}
