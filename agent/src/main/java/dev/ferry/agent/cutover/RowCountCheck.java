package dev.ferry.agent.cutover;

import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.SourceCatalog;
import dev.ferry.agent.db.SourceTable;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Compares each migrated table's row count on source and target once the stream is drained, and finds tables created
 * on the source after the migration started, which the migration does not hold at all.
 */
final class RowCountCheck {

    record TableCount(QualifiedName table, boolean insertOnly, long source, long target) {
        boolean equal() { return source == target; }
    }

    /** A table on the source that is not part of the migration and not excluded: created after the start. */
    record NewTable(QualifiedName table, long source) {}

    record Outcome(List<TableCount> counts, List<NewTable> newTables) {
        /** Tables with a tuple identifier whose counts differ: the cutover must not finish. */
        List<TableCount> mismatches() {
            return counts.stream().filter(c -> !c.equal() && !c.insertOnly()).toList();
        }

        /** Insert-only tables whose counts differ: expected when the source updated or deleted their rows. */
        List<TableCount> insertOnlyDifferences() {
            return counts.stream().filter(c -> !c.equal() && c.insertOnly()).toList();
        }

        long sourceRows() {
            return counts.stream().mapToLong(TableCount::source).sum();
        }
    }

    Outcome check(Connection source, Connection target, List<SourceTable> tables, TableFilter filter, SchemaMap schemaMap) throws SQLException {
        List<TableCount> counts = new ArrayList<>();
        for (SourceTable table : tables) {
            counts.add(new TableCount(table.name(), !table.identified(), count(source, table.name()), count(target, schemaMap.target(table.name()))));
        }
        Set<QualifiedName> migrated = tables.stream().map(SourceTable::name).collect(Collectors.toSet());
        List<NewTable> newTables = new ArrayList<>();
        for (SourceTable now : new SourceCatalog().read(source, filter)) {
            if (!migrated.contains(now.name())) newTables.add(new NewTable(now.name(), count(source, now.name())));
        }
        return new Outcome(counts, newTables);
    }

    private static long count(Connection connection, QualifiedName table) throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
