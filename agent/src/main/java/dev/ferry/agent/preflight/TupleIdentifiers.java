package dev.ferry.agent.preflight;

import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.SourceTable;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.value;

/**
 * Tables whose rows UPDATE and DELETE cannot identify. ferry still migrates them, through a publication of inserts
 * and truncates only (so the application's own updates keep working), and says exactly how to fix each one. A
 * partitioned table counts by its partitions, each published with its own identity: the root's does not matter.
 */
final class TupleIdentifiers implements CheckFamily {
    /** A unique index that can serve as replica identity: not partial, immediate, no expressions, NOT NULL columns. */
    private static final String CANDIDATE_INDEX = """
            SELECT i.indexrelid::regclass::text FROM pg_index i
            WHERE i.indrelid = ?::regclass AND i.indisunique AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL
              AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)
            ORDER BY i.indnatts LIMIT 1""";

    private static final String DEFERRABLE_KEY = "SELECT 'yes' FROM pg_index WHERE indrelid = ?::regclass AND indisprimary AND NOT indimmediate";

    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        List<SourceTable> unidentified = c.tables.stream().filter(t -> !t.identified()).toList();
        if (unidentified.isEmpty()) {
            return List.of(pass("tuple-identifier", "every table has a primary key or replica identity (" + c.tables.size() + " tables)"));
        }
        List<String> fixes = new ArrayList<>();
        for (SourceTable table : unidentified) {
            List<QualifiedName> targets = table.partitioned() && !table.leavesWithoutIdentity().isEmpty()
                    ? table.leavesWithoutIdentity() : List.of(table.name());
            for (QualifiedName name : targets) fixes.add(fixFor(c, name));
        }
        String names = unidentified.stream().map(t -> t.name()
                + (t.leavesWithoutIdentity().isEmpty() ? "" : " (partitions " + t.leavesWithoutIdentity().stream().map(QualifiedName::toString)
                .collect(Collectors.joining(", ")) + ")")).collect(Collectors.joining(", "));
        return List.of(warn("tuple-identifier", "no tuple identifier for UPDATE/DELETE in " + unidentified.size() + " tables: " + names,
                "PostgreSQL cannot identify their rows in UPDATE or DELETE, so those changes cannot be replayed on the target; ferry copies these tables"
                        + " and then follows only their INSERTs and TRUNCATEs. A partitioned table is followed partition by partition, each with its own"
                        + " replica identity (the root's plays no part): the partitions named have none, the others stream everything.",
                String.join("\n", fixes) + "\nthen run `ferry preflight` again. To leave a table out instead: --exclude-table schema.table"));
    }

    private static String fixFor(PreflightContext c, QualifiedName table) throws SQLException {
        Optional<String> index = value(c.source, CANDIDATE_INDEX, table.toString());
        if (index.isPresent()) return "ALTER TABLE " + table + " REPLICA IDENTITY USING INDEX " + index.get() + ";";
        return "ALTER TABLE " + table + " REPLICA IDENTITY FULL;  -- " + (value(c.source, DEFERRABLE_KEY, table.toString()).isPresent()
                ? "its primary key is DEFERRABLE, which PostgreSQL cannot use to identify rows (or recreate the key NOT DEFERRABLE)"
                : "or add a primary key");
    }
}
