package dev.ferry.agent.cutover;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Sets target sequences from the source's. Logical replication does not carry sequences, so without this the
 * application's first INSERT on the target would collide with a migrated row. At the cutover every sequence is set
 * to the source's value; `ferry sync-sequences` moves them only forward, so it is safe at any time, even while the
 * target is already in use.
 */
public final class SequenceSync {
    private static final Logger log = LoggerFactory.getLogger("ferry.cutover");

    /** Each sequence with the table of the column that owns it (serial, identity), if any. */
    private static final String SEQUENCES = """
            SELECT n.nspname, c.relname, tn.nspname, t.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_depend o ON o.classid = 'pg_class'::regclass AND o.objid = c.oid AND o.refclassid = 'pg_class'::regclass AND o.deptype IN ('a', 'i')
            LEFT JOIN pg_class t ON t.oid = o.refobjid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname !~ '^pg_'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 1, 2""";

    private final TableFilter filter;
    private final SchemaMap schemaMap;

    /** Every sequence, where it is on the source. */
    public SequenceSync() {
        this(TableFilter.NONE, SchemaMap.NONE);
    }

    /** The sequences of the schemas and tables {@code filter} migrates, each where {@code schemaMap} puts it on the target. */
    public SequenceSync(TableFilter filter, SchemaMap schemaMap) {
        this.filter = filter;
        this.schemaMap = schemaMap;
    }

    /** What one run did: sequences set, left alone because the target was already as far, missing on the target. */
    public record Result(int set, int alreadyAhead, List<QualifiedName> missing) {}

    /** At the cutover: every target sequence gets exactly the source's value. Returns how many were set. */
    int sync(Connection source, Connection target) throws SQLException {
        Result result = sync(source, target, false);
        log.info("set {} sequences on the target to the source's values", result.set());
        return result.set();
    }

    /** Moves each target sequence forward to the source's value; one already as far or further is left alone. */
    public Result syncForward(Connection source, Connection target) throws SQLException {
        Result result = sync(source, target, true);
        log.info("moved {} sequences on the target forward to the source's values; {} were already as far", result.set(), result.alreadyAhead());
        return result;
    }

    private Result sync(Connection source, Connection target, boolean onlyForward) throws SQLException {
        List<QualifiedName> sequences = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(SEQUENCES)) {
            while (rs.next()) {
                QualifiedName sequence = new QualifiedName(rs.getString(1), rs.getString(2));
                QualifiedName owner = rs.getString(3) == null ? null : new QualifiedName(rs.getString(3), rs.getString(4));
                if (filter.migratesSequence(sequence, owner)) sequences.add(sequence);
            }
        }
        int set = 0;
        int ahead = 0;
        List<QualifiedName> missing = new ArrayList<>();
        for (QualifiedName onSourceName : sequences) {
            QualifiedName sequence = schemaMap.target(onSourceName);
            Position onSource = Position.read(source, onSourceName).orElseThrow();
            Optional<Position> onTarget = Position.read(target, sequence);
            if (onTarget.isEmpty()) {
                log.warn("sequence {} exists on the source but not on the target; not set. Create it on the target and run: SELECT setval('{}', {}, {});",
                        sequence, sequence.toString().replace("'", "''"), onSource.lastValue(), onSource.called());
                missing.add(sequence);
                continue;
            }
            if (onlyForward && !onSource.isAheadOf(onTarget.get())) {
                ahead++;
                continue;
            }
            try (PreparedStatement s = target.prepareStatement("SELECT setval(?::regclass, ?, ?)")) {
                s.setString(1, sequence.toString());
                s.setLong(2, onSource.lastValue());
                s.setBoolean(3, onSource.called());
                s.execute();
            }
            log.debug("sequence {} set to {} (is_called {})", sequence, onSource.lastValue(), onSource.called());
            set++;
        }
        return new Result(set, ahead, missing);
    }

    /** A sequence's state; {@code increment} tells which way is forward. */
    private record Position(long lastValue, boolean called, long increment) {
        static Optional<Position> read(Connection connection, QualifiedName sequence) throws SQLException {
            try (PreparedStatement exists = connection.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
                exists.setString(1, sequence.toString());
                try (ResultSet rs = exists.executeQuery()) {
                    rs.next();
                    if (!rs.getBoolean(1)) return Optional.empty();
                }
            }
            try (PreparedStatement s = connection.prepareStatement("SELECT q.last_value, q.is_called, p.seqincrement FROM " + sequence
                    + " q, pg_sequence p WHERE p.seqrelid = ?::regclass")) {
                s.setString(1, sequence.toString());
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    return Optional.of(new Position(rs.getLong(1), rs.getBoolean(2), rs.getLong(3)));
                }
            }
        }

        /** The value the next nextval() returns. */
        long next() {
            return called ? lastValue + increment : lastValue;
        }

        boolean isAheadOf(Position other) {
            return increment > 0 ? next() > other.next() : next() < other.next();
        }
    }
}
