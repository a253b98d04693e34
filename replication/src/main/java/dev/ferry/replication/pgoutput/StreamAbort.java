package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.time.Instant;
import java.util.Optional;

/**
 * Abort of a streamed transaction ({@code subXid == xid}) or of one of its subtransactions: the changes streamed
 * for {@code subXid} are void. The abort LSN and time are sent only with protocol 4 and parallel streaming.
 */
public record StreamAbort(long xid, long subXid, Optional<Lsn> abortLsn, Optional<Instant> abortTime) implements PgOutputMessage {}
