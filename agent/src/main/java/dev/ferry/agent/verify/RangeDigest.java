package dev.ferry.agent.verify;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A key range's row count and an order-independent checksum of its rows: the sum of the first 64 bits of each row's
 * md5, so equal multisets of rows give equal sums whatever order the servers read them in, and duplicate rows count.
 * Read in one statement, so in one short snapshot.
 */
record RangeDigest(long rows, String checksum) {
    static final String ALIAS = "ferry_verified_row";

    static RangeDigest read(Connection connection, ComparedTable table, KeyRange range) throws SQLException {
        String query = "SELECT count(*), coalesce(sum(('x' || left(md5(" + table.rowText(ALIAS) + "), 16))::bit(64)::bigint), 0)::text"
                + " FROM " + table.from() + " " + ALIAS + range.where(ALIAS, table.rangeKey());
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(query)) {
            rs.next();
            return new RangeDigest(rs.getLong(1), rs.getString(2));
        }
    }
}
