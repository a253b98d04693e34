package dev.ferry.agent.stream;

import dev.ferry.replication.Lsn;

/** What the stream reached when the cutover was drained: the LSN applied, and the source transactions and changes applied since this start. */
public record Drained(Lsn lsn, long transactions, long changes) {}
