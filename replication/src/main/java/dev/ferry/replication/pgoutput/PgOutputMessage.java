package dev.ferry.replication.pgoutput;

/**
 * One message of the pgoutput logical replication protocol, decoded. Immutable and complete.
 * Formats: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */
public sealed interface PgOutputMessage permits Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate,
        LogicalMessage, StreamStart, StreamStop, StreamCommit, StreamAbort, BeginPrepare, Prepare, CommitPrepared,
        RollbackPrepared, StreamPrepare, Streamed {
}
