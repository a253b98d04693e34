package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;
import java.util.Optional;

/** STREAM ABORT: subtransaction {@code subXid} of {@code xid} rolled back (the whole transaction when equal). */
public record StreamAbort(long xid, long subXid, Optional<Lsn> abortLsn, Optional<Instant> abortTime) implements PgOutputMessage {}
