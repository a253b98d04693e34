package dev.ferry.agent.db;

import dev.ferry.replication.Lsn;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** Where the source's WAL stands, as a position the stream can reach once it has applied everything before it. */
public final class WalPosition {
    private WalPosition() {}

    /**
     * The WAL insert position, not pg_current_wal_lsn(): that is only the write position, which lags transactions
     * already committed when the source runs with synchronous_commit = off. Taken back to the page boundary when it
     * points just past a page header, where the stream could never get to on an idle source.
     */
    public static Lsn current(Connection source) throws SQLException {
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int,"
                     + " pg_size_bytes(current_setting('wal_segment_size'))")) {
            rs.next();
            return Lsn.parse(rs.getString(1)).withoutPageHeader(rs.getInt(2), rs.getLong(3));
        }
    }
}
