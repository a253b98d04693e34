package dev.ferry.agent.snapshot;

import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.SourceTable;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which tables a resumed copy must copy again together. A table copied again comes from a later snapshot than the
 * tables the interrupted copy finished; post-data then adds the foreign keys before the stream has brought the others
 * up to that later point, and a key between the two would fail ("Key (order_id)=(869) is not present in table
 * orders"). So every table joined by a foreign key, either way and transitively, to one copied again is copied again
 * in the same snapshot.
 */
public final class ForeignKeyGroups {
    private ForeignKeyGroups() {}

    /** {@code unfinished} plus every table of {@code tables} a chain of foreign keys on the source joins to one of them. */
    public static Set<SourceTable> expand(Connection src, List<SourceTable> tables, Set<SourceTable> unfinished) throws SQLException {
        Map<QualifiedName, SourceTable> byRelation = new HashMap<>();
        for (SourceTable table : tables) {
            byRelation.put(table.name(), table);
            for (PhysicalTable leaf : table.physical()) byRelation.put(leaf.name(), table);
        }
        List<SourceTable[]> keys = new ArrayList<>();
        try (Statement s = src.createStatement(); ResultSet rs = s.executeQuery("""
                SELECT cn.nspname, c.relname, fn.nspname, f.relname
                FROM pg_constraint k
                JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
                JOIN pg_class f ON f.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
                WHERE k.contype = 'f'""")) {
            while (rs.next()) {
                SourceTable from = byRelation.get(new QualifiedName(rs.getString(1), rs.getString(2)));
                SourceTable to = byRelation.get(new QualifiedName(rs.getString(3), rs.getString(4)));
                if (from != null && to != null && from != to) keys.add(new SourceTable[] {from, to});
            }
        }
        Set<SourceTable> again = new LinkedHashSet<>(unfinished);
        for (boolean grew = true; grew; ) {
            grew = false;
            for (SourceTable[] key : keys) {
                if (again.contains(key[0]) != again.contains(key[1])) {
                    again.add(key[0]);
                    again.add(key[1]);
                    grew = true;
                }
            }
        }
        return again;
    }
}
