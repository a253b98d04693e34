package dev.ferry.agent.apply;

import dev.ferry.agent.name.QualifiedName;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Writes many inserted rows of one relation with COPY, which the target parses far faster than multi-row statements
 * and which costs ferry no bind parameters. Rows of a table without a key are plain inserts anyway. Rows of a keyed
 * table (normally upserts) are tried under a savepoint: on a target in step with the source no row holds their keys
 * yet, so COPY spares the target the speculative insertion of ON CONFLICT; if a key is there after all, nothing of
 * the COPY stays and the caller upserts the rows as usual, so a replay stays idempotent.
 */
final class CopyRoute {
    private static final String UNIQUE_VIOLATION = "23505";
    /** Rows are encoded and sent in pieces of about this many bytes, so memory stays bounded. */
    private static final int PIECE_BYTES = 256 * 1024;

    private final String copy;
    private final boolean keyed;

    private CopyRoute(String copy, boolean keyed) {
        this.copy = copy;
        this.keyed = keyed;
    }

    /** Inserts into a table without a key, of the given columns (already quoted and joined). */
    static CopyRoute plain(QualifiedName table, String columns) {
        return new CopyRoute(copyInto(table, columns), false);
    }

    /** Inserts into a keyed table, of the given columns (already quoted and joined). */
    static CopyRoute keyed(QualifiedName table, String columns) {
        return new CopyRoute(copyInto(table, columns), true);
    }

    private static String copyInto(QualifiedName table, String columns) {
        // No column at all: COPY takes no empty list, and each row is an empty line.
        return "COPY " + table + (columns.isEmpty() ? "" : " (" + columns + ")") + " FROM STDIN";
    }

    /**
     * Writes the rows (each the values of the route's columns, as text) inside the open target transaction.
     * Returns false, having written nothing, if the table is keyed and one of the keys exists already.
     */
    boolean write(Connection target, List<String[]> rows) throws SQLException {
        if (!keyed) {
            copy(target, rows);
            return true;
        }
        execute(target, "SAVEPOINT ferry_copy");
        try {
            copy(target, rows);
        } catch (SQLException e) {
            if (!UNIQUE_VIOLATION.equals(e.getSQLState())) throw e;
            execute(target, "ROLLBACK TO SAVEPOINT ferry_copy; RELEASE SAVEPOINT ferry_copy");
            return false;
        }
        execute(target, "RELEASE SAVEPOINT ferry_copy");
        return true;
    }

    private static void execute(Connection target, String sql) throws SQLException {
        try (Statement s = target.createStatement()) {
            s.execute(sql);
        }
    }

    private void copy(Connection target, List<String[]> rows) throws SQLException {
        CopyIn in = target.unwrap(PGConnection.class).getCopyAPI().copyIn(copy);
        boolean ended = false;
        try {
            CopyText text = new CopyText(PIECE_BYTES + PIECE_BYTES / 4);
            for (String[] row : rows) {
                text.appendRow(row);
                if (text.length() >= PIECE_BYTES) text.sendTo(in);
            }
            text.sendTo(in);
            in.endCopy();
            ended = true;
        } finally {
            if (!ended) cancelQuietly(in);
        }
    }

    /** Ends a failed COPY without hiding why it failed (the caller's exception is the one that matters). */
    private static void cancelQuietly(CopyIn in) {
        try {
            if (in.isActive()) in.cancelCopy();
        } catch (SQLException ignored) {
            // the COPY failed already; its own error is on its way up
        }
    }
}
