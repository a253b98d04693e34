package dev.ferry.replication.pgoutput;

import java.util.List;

/** TRUNCATE of one or more relations in one statement. */
public record Truncate(List<Integer> relationIds, boolean cascade, boolean restartIdentity) implements PgOutputMessage {
    public Truncate {
        relationIds = List.copyOf(relationIds);
    }
}
