package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** PREPARE TRANSACTION of the transaction opened by BeginPrepare. */
public record Prepare(int flags, Lsn prepareLsn, Lsn endLsn, Instant prepareTime, long xid, String gid) implements PgOutputMessage {}
