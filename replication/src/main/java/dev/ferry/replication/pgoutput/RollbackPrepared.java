package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** ROLLBACK PREPARED of an earlier prepared transaction. */
public record RollbackPrepared(int flags, Lsn prepareEndLsn, Lsn rollbackEndLsn, Instant prepareTime, Instant rollbackTime,
                               long xid, String gid) implements PgOutputMessage {}
