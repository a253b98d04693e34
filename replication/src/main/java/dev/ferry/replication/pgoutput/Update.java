package dev.ferry.replication.pgoutput;

import java.util.Optional;

/**
 * A changed row. {@code old} is the replica identity key ('K', when the key changed) or the whole old row
 * ('O', REPLICA IDENTITY FULL); absent when the server sent neither.
 */
public record Update(int relationId, Optional<Tuple> old, Tuple next) implements PgOutputMessage {}
