package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;

/** COMMIT PREPARED of an earlier prepared transaction. */
public record CommitPrepared(int flags, Lsn commitLsn, Lsn endLsn, Instant commitTime, long xid, String gid) implements PgOutputMessage {}
