package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** STREAM PREPARE (two-phase commit of a streamed transaction, protocol 3+). */
public record StreamPrepare(int flags, Lsn prepareLsn, Lsn endLsn, Instant prepareTime, long xid, String gid) implements PgOutputMessage {}
