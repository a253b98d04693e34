package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** PREPARE TRANSACTION of a transaction whose changes were streamed earlier. */
public record StreamPrepare(int flags, Lsn prepareLsn, Lsn endLsn, Instant prepareTime, long xid, String gid) implements PgOutputMessage {}
