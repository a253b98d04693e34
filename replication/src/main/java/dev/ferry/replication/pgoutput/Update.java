package dev.ferry.replication.pgoutput;

import java.util.Optional;

/** UPDATE to {@code next}; {@code old} is the old key (replica identity changed) or the full old row (REPLICA IDENTITY FULL). */
public record Update(int relationId, Optional<Tuple> old, Tuple next) implements PgOutputMessage {}
