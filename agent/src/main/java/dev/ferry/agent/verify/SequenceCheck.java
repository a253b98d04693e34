package dev.ferry.agent.verify;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.db.QualifiedName;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks that no target sequence is behind its source: a sequence behind would hand out values the application
 * already used. The cutover sets them; while the migration streams they are not expected to match.
 */
final class SequenceCheck {
    private static final String SEQUENCES = """
            SELECT schemaname, sequencename, last_value FROM pg_sequences
            WHERE schemaname NOT IN ('ferry', 'information_schema') AND schemaname NOT LIKE 'pg\\_%'
              AND schemaname NOT LIKE '\\_timescaledb%' AND schemaname NOT LIKE 'timescaledb\\_%'""";

    private SequenceCheck() {}

    static List<String> differences(Connection source, Connection target, SchemaMap map) throws SQLException {
        Map<QualifiedName, Long> onSource = new TreeMap<>();
        read(source).forEach((name, value) -> onSource.put(map.target(name), value));
        Map<QualifiedName, Long> onTarget = read(target);
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

    /** last_value per sequence; null where it was never used (or the user may not read it). */
    private static Map<QualifiedName, Long> read(Connection connection) throws SQLException {
        Map<QualifiedName, Long> sequences = new TreeMap<>();
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(SEQUENCES)) {
            while (rs.next()) {
                long value = rs.getLong(3);
                sequences.put(new QualifiedName(rs.getString(1), rs.getString(2)), rs.wasNull() ? null : value);
            }
        }
        return sequences;
    }
}
