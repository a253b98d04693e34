package dev.ferry.agent.verify;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * Checks that no target sequence is behind its source: a sequence behind would hand out values the application
 * already used. The cutover sets them; while the migration streams they are not expected to match.
 */
final class SequenceCheck {
    private static final String SEQUENCES = """
            SELECT s.schemaname, s.sequencename, s.last_value, tn.nspname, t.relname FROM pg_sequences s
            LEFT JOIN pg_depend o ON o.classid = 'pg_class'::regclass AND o.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
                                 AND o.refclassid = 'pg_class'::regclass AND o.deptype IN ('a', 'i')
            LEFT JOIN pg_class t ON t.oid = o.refobjid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE schemaname NOT IN ('ferry', 'information_schema') AND schemaname NOT LIKE 'pg\\_%'
              AND schemaname NOT LIKE '\\_timescaledb%' AND schemaname NOT LIKE 'timescaledb\\_%'""";

    private SequenceCheck() {}

    /**
     * The differences of the sequences {@code filter} migrates (with their schema and the table whose column owns them),
     * each compared with the sequence {@code map} puts it at on the target.
     */
    static List<String> differences(Connection source, Connection target, TableFilter filter, SchemaMap map) throws SQLException {
        Map<QualifiedName, Long> onSource = new TreeMap<>();
        read(source, filter, UnaryOperator.identity()).forEach((name, value) -> onSource.put(map.target(name), value));
        Map<QualifiedName, Long> onTarget = read(target, filter, map::source);
        List<String> differences = new ArrayList<>();
        for (Map.Entry<QualifiedName, Long> sequence : onSource.entrySet()) {
            if (!onTarget.containsKey(sequence.getKey())) {
                differences.add("sequence " + sequence.getKey() + " exists only on the source");
                continue;
            }
            Long sourceValue = sequence.getValue();
            Long targetValue = onTarget.get(sequence.getKey());
            if (sourceValue != null && (targetValue == null || targetValue < sourceValue)) {
                differences.add("sequence " + sequence.getKey() + " is behind on the target: source at " + sourceValue + ", target at "
                        + (targetValue == null ? "its start" : targetValue) + " (`ferry sync-sequences` or the cutover sets it; by hand: SELECT setval('"
                        + sequence.getKey().toString().replace("'", "''") + "', " + sourceValue + ") on the target)");
            }
        }
        return differences;
    }

    /**
     * last_value per sequence; null where it was never used (or the user may not read it). {@code asSource} gives the
     * source name of a sequence or table read here, which the filter matches.
     */
    private static Map<QualifiedName, Long> read(Connection connection, TableFilter filter, UnaryOperator<QualifiedName> asSource) throws SQLException {
        Map<QualifiedName, Long> sequences = new TreeMap<>();
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(SEQUENCES)) {
            while (rs.next()) {
                long value = rs.getLong(3);
                QualifiedName owner = rs.getString(4) == null ? null : new QualifiedName(rs.getString(4), rs.getString(5));
                if (!filter.migratesSequence(asSource.apply(new QualifiedName(rs.getString(1), rs.getString(2))),
                        owner == null ? null : asSource.apply(owner))) continue;
                sequences.put(new QualifiedName(rs.getString(1), rs.getString(2)), rs.wasNull() ? null : value);
            }
        }
        return sequences;
    }
}
