package dev.ferry.agent.preflight;

import dev.ferry.agent.db.Database;
import dev.ferry.agent.source.ReplicationConnections;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.PreflightContext.column;
import static dev.ferry.agent.preflight.PreflightContext.value;

/** Whether ferry can read the source the way it needs to: a primary, directly, with replication rights. */
final class SourceAccess implements CheckFamily {
    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        List<CheckResult> results = new ArrayList<>();
        boolean standby = value(c.source, "SELECT pg_is_in_recovery()").orElse("f").equals("t");
        results.add(standby
                ? fail("source-is-standby", "the source " + c.config.source().masked() + " is a standby (read replica)",
                "a standby cannot hold ferry's publications, and its slot would not survive a failover: the migration must read the primary.",
                "point --source at the primary server (on managed services: the writer endpoint), not at a read or failover replica.")
                : pass("source-is-standby", "the source is a primary"));

        String user = c.config.source().user();
        boolean superuser = value(c.source, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").orElse("f").equals("t");
        boolean replication = value(c.source, "SELECT rolreplication FROM pg_roles WHERE rolname = current_user").orElse("f").equals("t")
                || !column(c.source, "SELECT 1 FROM pg_roles r WHERE r.rolname IN ('rds_replication', 'azure_pg_admin', 'cloudsqlsuperuser')"
                + " AND pg_has_role(current_user, r.oid, 'MEMBER')").isEmpty();
        results.add(superuser || replication
                ? pass("replication-privilege", "role " + user + " may replicate" + (superuser ? " (superuser; ferry does not need one)" : ""))
                : fail("replication-privilege", "role " + user + " has no REPLICATION attribute on the source",
                "creating and reading a replication slot needs it (no superuser needed).",
                "on the source, as an admin: ALTER ROLE \"" + user + "\" WITH REPLICATION; (RDS/Aurora: GRANT rds_replication TO \"" + user + "\";)"));

        if (!superuser) {
            // Publications list plain tables and leaf partitions, each of which the role must own; never partitioned tables.
            List<String> notOwned = column(c.source, """
                    SELECT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind = 'r' AND c.relpersistence = 'p'
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry') AND n.nspname !~ '^pg_'
                      AND NOT pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY 1 LIMIT 20""");
            boolean canCreate = value(c.source, "SELECT has_database_privilege(current_user, current_database(), 'CREATE')").orElse("f").equals("t");
            if (!notOwned.isEmpty() || !canCreate) {
                results.add(fail("publication-privilege",
                        (canCreate ? "" : "role " + user + " may not CREATE in the source database; ") + (notOwned.isEmpty() ? ""
                                : "role " + user + " does not own " + String.join(", ", notOwned)),
                        "CREATE PUBLICATION ... FOR TABLE needs CREATE on the database and ownership of each table (or a superuser).",
                        "on the source: GRANT CREATE ON DATABASE \"" + c.config.source().database() + "\" TO \"" + user + "\"; and run ferry as the tables' owner"
                                + " (or ALTER TABLE ... OWNER TO \"" + user + "\" for each)."));
            } else {
                results.add(pass("publication-privilege", "role " + user + " owns every table and may create publications"));
            }
        }
        results.add(replicationConnection(c));
        return results;
    }

    /** Opens a replication connection and asks IDENTIFY_SYSTEM, which creates nothing: also how a pooler gives itself away. */
    private static CheckResult replicationConnection(PreflightContext c) {
        Database source = new Database(c.config.source(), "source");
        try (Connection replication = ReplicationConnections.open(source);
             Statement s = replication.createStatement(); ResultSet rs = s.executeQuery("IDENTIFY_SYSTEM")) {
            rs.next();
            return pass("pooler", "a replication connection reaches the server directly (system " + rs.getString(1) + ")");
        } catch (SQLException e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            if ("42501".equals(e.getSQLState()) || message.contains("replication role")) {
                return pass("pooler", "not checked: the role may not open replication connections (see replication-privilege)");
            }
            if (looksLikePooler(message)) {
                return fail("pooler", "the source " + c.config.source().masked() + " answers as a connection pooler: " + message,
                        "poolers (PgBouncer, pgcat, RDS Proxy) cannot carry replication connections, which ferry's stream needs.",
                        "connect to the database directly: point --source at the server's own host and port, not the pooler's.");
            }
            return fail("pooler", "a replication connection to the source failed: " + message,
                    "ferry's slot and stream use a replication connection (replication=database).",
                    "allow it in pg_hba.conf for user " + c.config.source().user() + " and database " + c.config.source().database()
                            + " (logical replication connections match the database name, not the 'replication' keyword), then SELECT pg_reload_conf();");
        }
    }

    static boolean looksLikePooler(String message) {
        String lower = message.toLowerCase();
        return lower.contains("pgbouncer") || lower.contains("unsupported startup parameter") || lower.contains("pgcat")
                || lower.contains("rds proxy") || lower.contains("pooler");
    }
}
