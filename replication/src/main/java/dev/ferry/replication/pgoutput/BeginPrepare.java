package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** BEGIN PREPARE (two-phase commit, protocol 3+). */
public record BeginPrepare(Lsn prepareLsn, Lsn endLsn, Instant prepareTime, long xid, String gid) implements PgOutputMessage {}
