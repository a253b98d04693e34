package dev.ferry.agent.snapshot;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import org.postgresql.PGConnection;
import org.postgresql.copy.PGCopyOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * Copies one chunk: {@code COPY ... TO STDOUT} on a source connection already inside the exported snapshot, streamed
 * straight into {@code COPY ... FROM STDIN} on the target, never holding a table in memory. The chunk's progress
 * row is written in the same target transaction as its rows, so a crash leaves either both or neither.
 * Owned by one copy worker thread.
 */
final class ChunkCopier {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");
    private static final int BUFFER_BYTES = 256 * 1024;

    private final Connection source;
    private final Connection target;
    private final StateStore state;
    private final SchemaMap schemaMap;
    private final NumericNanInf numericNanInf;
    private final Lsn syncLsn;
    private final CopyFormat format;
    private final ChunkRewrites rewrites;
    private final CompressedChunkCopy compressedChunks;

    ChunkCopier(Connection source, Connection target, StateStore state, NumericNanInf numericNanInf, Lsn syncLsn, CopyFormat format, ChunkRewrites rewrites,
                SchemaMap schemaMap) {
        this.schemaMap = schemaMap;
        this.source = source;
        this.rewrites = rewrites;
        this.target = target;
        this.state = state;
        this.numericNanInf = numericNanInf;
        this.syncLsn = syncLsn;
        this.format = format;
        this.compressedChunks = new CompressedChunkCopy(source, target, format, numericNanInf);
    }

    record Result(long rows, long bytes, long nanInfNulled) {}

    Result copy(CopyChunk chunk) throws SQLException, IOException {
        if (!chunk.table().hypertable()) return copyLocked(chunk);
        // The locks a unit of a hypertable takes (ACCESS SHARE on the hypertable and the chunks it reads) are released
        // as soon as it is copied, by rolling back the read-only subtransaction that took them: the snapshot stays, and
        // TimescaleDB's jobs on the source (compression, retention: ACCESS EXCLUSIVE on a chunk) wait for one unit's
        // copy, not for the worker's whole share of the copy. A plain table keeps its lock until the worker ends, so
        // nothing rewrites it between two of its page ranges.
        rewrites.connect();
        try (Statement s = source.createStatement()) {
            s.execute("SAVEPOINT ferry_unit");
        }
        Result result = copyLocked(chunk);
        try (Statement s = source.createStatement()) {
            s.execute("ROLLBACK TO SAVEPOINT ferry_unit");
            s.execute("RELEASE SAVEPOINT ferry_unit");
        }
        return result;
    }

    private Result copyLocked(CopyChunk chunk) throws SQLException, IOException {
        long started = System.nanoTime();
        long nulled = numericNanInf == NumericNanInf.NULL ? countNanInf(chunk) : 0;
        // A whole table without values to rewrite takes the plain COPY path, which skips the executor's projection. A
        // table with no column to copy reads its rows with SELECT FROM, which names none: COPY without a column list
        // would take whatever columns the source's version counts as copyable.
        // COPY of a hypertable reads only its (empty) parent table: its rows are in chunks, read through a SELECT.
        boolean plain = chunk.count() == 1 && !chunk.table().columns().isEmpty() && !chunk.table().hypertable()
                && (numericNanInf == NumericNanInf.KEEP || chunk.table().numericColumns().isEmpty());
        String readOptions = format.readOptions(chunk.table());
        String copyOut = plain
                ? "COPY " + chunk.table().name() + chunk.table().copyColumns() + " TO STDOUT" + readOptions
                : "COPY (SELECT " + selectList(chunk) + " FROM " + chunk.table().readFrom() + chunk.pageFilter() + ") TO STDOUT" + readOptions;
        String copyIn = "COPY " + schemaMap.target(chunk.table().name()) + chunk.table().copyColumns() + " FROM STDIN" + format.writeOptions(chunk);
        log.debug("{}: {} -> {}", chunk, copyOut, copyIn);
        long[] copied;
        try {
            // Committed before the unit's own transaction, which then holds no lock that keeps other workers from
            // making chunks of the same hypertable.
            Optional<CompressedChunkCopy.Prepared> compressed = compressedChunks.prepare(chunk);
            if (format.freezes(chunk)) {
                // Empty already (fresh, or emptied on resume); FREEZE needs the truncation in this transaction.
                try (Statement s = target.createStatement()) {
                    s.execute("TRUNCATE ONLY " + schemaMap.target(chunk.table().name()));
                }
            }
            copied = compressed.isPresent() ? compressedChunks.copy(chunk, compressed.get(), this::pipe) : pipe(copyOut, copyIn);
            if (chunk.table().hypertable()) rewrites.check(source, chunk); // before the commit records the unit as copied
            state.recordChunk(target, chunk.table().name(), chunk.index(), chunk.count(), syncLsn, copied[0], copied[1],
                    (System.nanoTime() - started) / 1e9);
            target.commit();
        } catch (SQLException | IOException e) {
            rollbackQuietly(e);
            throw explain(chunk, e);
        } catch (FerryException e) {
            rollbackQuietly(e);
            throw e;
        }
        return new Result(copied[0], copied[1], nulled);
    }

    /** Streams {@code copyOut} on the source into {@code copyIn} on the target; returns rows and bytes. */
    private long[] pipe(String copyOut, String copyIn) throws SQLException, IOException {
        PGCopyOutputStream into = new PGCopyOutputStream(target.unwrap(PGConnection.class), copyIn, BUFFER_BYTES);
        CountingStream counter = new CountingStream(into);
        try {
            long rows = source.unwrap(PGConnection.class).getCopyAPI().copyOut(copyOut, counter);
            into.endCopy();
            return new long[] {rows, counter.bytes};
        } finally {
            if (into.isActive()) into.cancelCopy();
        }
    }

    private String selectList(CopyChunk chunk) {
        StringBuilder select = new StringBuilder();
        for (String column : chunk.table().columns()) {
            if (select.length() > 0) select.append(", ");
            String quoted = QualifiedName.quote(column);
            if (numericNanInf == NumericNanInf.NULL && chunk.table().numericColumns().contains(column)) {
                select.append("CASE WHEN ").append(quoted).append("::text IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE ")
                        .append(quoted).append(" END");
            } else {
                select.append(quoted);
            }
        }
        return select.toString(); // empty for a table with no column to copy: SELECT FROM t still returns its rows
    }

    private long countNanInf(CopyChunk chunk) throws SQLException {
        if (chunk.table().numericColumns().isEmpty()) return 0;
        StringBuilder sum = new StringBuilder();
        for (String column : chunk.table().numericColumns()) {
            if (sum.length() > 0) sum.append(" + ");
            sum.append("count(*) FILTER (WHERE ").append(QualifiedName.quote(column)).append("::text IN ('NaN', 'Infinity', '-Infinity'))");
        }
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT " + sum + " FROM " + chunk.table().readFrom() + chunk.pageFilter())) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void rollbackQuietly(Exception failure) {
        try {
            target.rollback();
        } catch (SQLException e) {
            failure.addSuppressed(e);
        }
    }

    private FerryException explain(CopyChunk chunk, Exception e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        if (e instanceof SQLException sql && "22P02".equals(sql.getSQLState())
                && (message.contains("Infinity") || message.contains("NaN"))) {
            return new FerryException("copy of " + chunk + " failed: the target cannot store a numeric value.",
                    message + ". PostgreSQL before 14 has no numeric Infinity.",
                    "run again with --numeric-nan-inf null to write NULL for NaN/Infinity (ferry counts them per table in snapshot.log), or migrate to PostgreSQL 14+.",
                    ExitCode.FAILED, e);
        }
        return new FerryException("copy of " + chunk + " failed.", message,
                "check the target's log for the statement; run the same `ferry run` again to resume: copied tables are kept, this one is copied again.", e);
    }

    /** Counts the bytes of COPY data passing through, for progress and the summary. */
    private static final class CountingStream extends FilterOutputStream {
        long bytes;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            bytes += len;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            bytes++;
        }
    }
}
