package dev.ferry.agent.cutover;

import dev.ferry.agent.db.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Sets every target sequence to the source's current value. Logical replication does not carry sequences, so
 * without this the application's first INSERT on the target would collide with a migrated row.
 */
final class SequenceSync {
    private static final Logger log = LoggerFactory.getLogger("ferry.cutover");

    private static final String SEQUENCES = """
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname !~ '^pg_'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 1, 2""";

    /** Returns how many sequences were set. */
    int sync(Connection source, Connection target) throws SQLException {
        List<QualifiedName> sequences = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(SEQUENCES)) {
            while (rs.next()) sequences.add(new QualifiedName(rs.getString(1), rs.getString(2)));
        }
        int set = 0;
        for (QualifiedName sequence : sequences) {
            long lastValue;
            boolean called;
            try (Statement s = source.createStatement();
                 ResultSet rs = s.executeQuery("SELECT last_value, is_called FROM " + sequence)) {
                rs.next();
                lastValue = rs.getLong(1);
                called = rs.getBoolean(2);
            }
            try (PreparedStatement exists = target.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
                exists.setString(1, sequence.toString());
                try (ResultSet rs = exists.executeQuery()) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        log.warn("sequence {} exists on the source but not on the target; not set. Create it on the target and run: SELECT setval('{}', {}, {});",
                                sequence, sequence.toString().replace("'", "''"), lastValue, called);
                        continue;
                    }
                }
            }
            try (PreparedStatement s = target.prepareStatement("SELECT setval(?::regclass, ?, ?)")) {
                s.setString(1, sequence.toString());
                s.setLong(2, lastValue);
                s.setBoolean(3, called);
                s.execute();
            }
            log.debug("sequence {} set to {} (is_called {})", sequence, lastValue, called);
            set++;
        }
        log.info("set {} sequences on the target to the source's values", set);
        return set;
    }
}
