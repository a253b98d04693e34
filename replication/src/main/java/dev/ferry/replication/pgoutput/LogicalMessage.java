package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

/** MESSAGE: a payload written with pg_logical_emit_message(). */
public record LogicalMessage(boolean transactional, Lsn lsn, String prefix, byte[] content) implements PgOutputMessage {}
