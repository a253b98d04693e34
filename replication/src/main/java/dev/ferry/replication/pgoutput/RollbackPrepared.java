package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** ROLLBACK PREPARED (two-phase commit, protocol 3+). */
public record RollbackPrepared(int flags, Lsn prepareEndLsn, Lsn rollbackEndLsn, Instant prepareTime, Instant rollbackTime, long xid, String gid) implements PgOutputMessage {}
