package dev.ferry.replication.pgoutput;

/**
 * One message of PostgreSQL's logical replication protocol as the pgoutput plugin sends it, decoded by
 * {@link PgOutputDecoder}. Consumers dispatch on the concrete type with one {@code instanceof} chain.
 *
 * @see <a href="https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html">Logical Replication Message Formats</a>
 */
public sealed interface PgOutputMessage permits Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate,
        LogicalMessage, StreamStart, StreamStop, StreamCommit, StreamAbort, BeginPrepare, Prepare, CommitPrepared,
        RollbackPrepared, StreamPrepare, Streamed {}
