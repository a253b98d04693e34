package dev.ferry.agent.preflight;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.SourceTable;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.PreflightContext.value;

/**
 * Row security policies that would apply to ferry's users. Every ferry session runs with {@code row_security = off}
 * (docs/schema.md), so a table whose policies apply stops the copy or the stream instead of losing rows; this names
 * such tables before anything is created. Policies apply to a user that is neither superuser nor BYPASSRLS, on a table
 * with row security enabled that the user does not own, or owns under FORCE ROW LEVEL SECURITY.
 */
final class RowSecurity implements CheckFamily {
    private static final String BYPASSES = "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user";

    /** Tables whose policies apply to the current user (who does not bypass them). */
    private static final String APPLYING = """
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity
              AND (c.relforcerowsecurity OR NOT pg_has_role(current_user, c.relowner, 'USAGE'))""";

    /** Tables that force row security on their owner, which ferry's target user becomes when it copies the schema. */
    private static final String FORCED = """
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND c.relforcerowsecurity""";

    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        Set<QualifiedName> migrated = migrated(c.tables);
        List<CheckResult> results = new ArrayList<>();
        List<String> onSource = bypasses(c.source) ? List.of() : tables(c.source, APPLYING, migrated);
        String sourceUser = user(c.source);
        results.add(onSource.isEmpty()
                ? pass("source-row-security", "no row security policy applies to " + sourceUser + " on the source")
                : fail("source-row-security", "row security policies apply to " + sourceUser + " on the source in " + String.join(", ", onSource),
                "the copy would read only the rows the policies let through; ferry runs with row_security = off, so the copy stops on these tables instead.",
                "on the source, as a superuser: ALTER ROLE " + sourceUser + " BYPASSRLS; or run ferry as a superuser."));

        List<String> onTarget = bypasses(c.target) ? List.of()
                : c.config.schemaMode() == MigrationConfig.SchemaMode.COPY ? tables(c.source, FORCED, migrated) : tables(c.target, APPLYING, migrated);
        String targetUser = user(c.target);
        results.add(onTarget.isEmpty()
                ? pass("target-row-security", "no row security policy will apply to " + targetUser + " on the target")
                : fail("target-row-security", "row security policies will apply to " + targetUser + " on the target in " + String.join(", ", onTarget),
                c.config.schemaMode() == MigrationConfig.SchemaMode.COPY
                        ? "ferry's user owns the tables it creates, and FORCE ROW LEVEL SECURITY subjects their owner to the policies; the stream's "
                        + "UPDATEs and DELETEs would miss the rows they hide, so with row_security = off the stream stops on these tables instead."
                        : "the stream's UPDATEs and DELETEs would miss the rows the policies hide; with row_security = off the stream stops on these tables instead.",
                "on the target, as a superuser: ALTER ROLE " + targetUser + " BYPASSRLS; or run ferry as a superuser there."));
        return results;
    }

    /** The tables ferry copies or follows: roots, plain tables and the partitions that hold the rows. */
    private static Set<QualifiedName> migrated(List<SourceTable> tables) {
        Set<QualifiedName> names = new HashSet<>();
        for (SourceTable table : tables) {
            names.add(table.name());
            for (PhysicalTable physical : table.physical()) names.add(physical.name());
        }
        return names;
    }

    private static List<String> tables(Connection connection, String sql, Set<QualifiedName> migrated) throws SQLException {
        List<String> found = new ArrayList<>();
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(sql + " ORDER BY 1, 2")) {
            while (rs.next()) {
                QualifiedName table = new QualifiedName(rs.getString(1), rs.getString(2));
                if (migrated.contains(table)) found.add(table.toString());
            }
        }
        return found;
    }

    private static boolean bypasses(Connection connection) throws SQLException {
        return value(connection, BYPASSES).orElse("f").equals("t");
    }

    private static String user(Connection connection) throws SQLException {
        return QualifiedName.quote(value(connection, "SELECT current_user").orElseThrow());
    }
}
