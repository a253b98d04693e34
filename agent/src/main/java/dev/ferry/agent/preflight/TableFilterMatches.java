package dev.ferry.agent.preflight;

import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;

/**
 * The table filter against the source's catalog: a pattern that matches nothing is most likely a typo, and a mistyped
 * --include-table or --exclude-table would otherwise silently migrate more (or less) than meant.
 */
final class TableFilterMatches implements CheckFamily {
    private static final String SCHEMAS = """
            SELECT nspname FROM pg_namespace
            WHERE nspname NOT IN ('information_schema', 'ferry') AND nspname !~ '^pg_' AND nspname !~ '^_?timescaledb'""";

    /** Tables, partitions and foreign tables, as the patterns may name them. */
    private static final String TABLES = """
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'f')
              AND n.nspname NOT IN ('information_schema', 'ferry') AND n.nspname !~ '^pg_' AND n.nspname !~ '^_?timescaledb'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')""";

    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        TableFilter filter = c.config.tables();
        if (filter.isEmpty()) return List.of();
        List<String> schemas = new ArrayList<>();
        List<QualifiedName> tables = new ArrayList<>();
        try (Statement s = c.source.createStatement(); ResultSet rs = s.executeQuery(SCHEMAS)) {
            while (rs.next()) schemas.add(rs.getString(1));
        }
        try (Statement s = c.source.createStatement(); ResultSet rs = s.executeQuery(TABLES)) {
            while (rs.next()) tables.add(new QualifiedName(rs.getString(1), rs.getString(2)));
        }
        List<String> unmatched = filter.unmatched(schemas, tables);
        long migrated = tables.stream().filter(filter::migrates).count();
        if (unmatched.isEmpty()) {
            return List.of(pass("table-filter", "every filter pattern matches; " + migrated + " of " + tables.size() + " tables are in the migration, "
                    + c.tables.size() + " with their rows"));
        }
        // NOTE: the pattern is named as typed after its option; tests and scripts look for it.
        return List.of(warn("table-filter", "these patterns match nothing on the source: " + String.join(", ", unmatched),
                "a pattern that matches nothing is usually a typo: an --include-table or --exclude-table that misses its table migrates other tables than meant ("
                        + migrated + " of " + tables.size() + " tables are in the migration now).",
                "check the spelling (unquoted names fold to lower case; write \"MixedCase\" in double quotes, * and ? as wildcards), "
                        + "then run `ferry preflight` again. The patterns are explained in docs/compatibility.md, \"Filters\"."));
    }
}
