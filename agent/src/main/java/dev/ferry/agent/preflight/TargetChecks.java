package dev.ferry.agent.preflight;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.ferry.agent.preflight.CheckFamily.fail;
import static dev.ferry.agent.preflight.CheckFamily.pass;
import static dev.ferry.agent.preflight.CheckFamily.warn;
import static dev.ferry.agent.preflight.PreflightContext.column;
import static dev.ferry.agent.preflight.PreflightContext.number;
import static dev.ferry.agent.preflight.PreflightContext.setting;
import static dev.ferry.agent.preflight.PreflightContext.value;

/** Whether the target can receive this migration: empty (or this migration's), writable, compatible. */
final class TargetChecks implements CheckFamily {
    @Override
    public List<CheckResult> run(PreflightContext c) throws SQLException {
        List<CheckResult> results = new ArrayList<>();
        results.add(contents(c));
        String user = c.config.target().user();
        boolean superuser = value(c.target, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").orElse("f").equals("t");
        boolean canCreate = value(c.target, "SELECT has_database_privilege(current_user, current_database(), 'CREATE')").orElse("f").equals("t");
        results.add(canCreate
                ? pass("target-privileges", "role " + user + " may create schemas on the target")
                : fail("target-privileges", "role " + user + " may not CREATE in the target database",
                "ferry creates the schema's objects and its own state schema \"ferry\".",
                "on the target: GRANT CREATE ON DATABASE \"" + c.config.target().database() + "\" TO \"" + user + "\";"));
        boolean replicaRole = superuser || (c.targetMajor >= 15
                && value(c.target, "SELECT has_parameter_privilege(current_user, 'session_replication_role', 'SET')").orElse("f").equals("t"));
        results.add(replicaRole
                ? pass("target-replication-role", "role " + user + " may set session_replication_role" + (superuser ? " (superuser; ferry does not need one)" : ""))
                : fail("target-replication-role", "role " + user + " may not set session_replication_role on the target",
                "ferry applies changes with session_replication_role = replica so the target's triggers and foreign keys do not fire a second time.",
                c.targetMajor >= 15 ? "on the target, as a superuser: GRANT SET ON PARAMETER session_replication_role TO \"" + user + "\";"
                        : "connect as a superuser, or your provider's admin role (rds_superuser, tsdbadmin)."));

        List<String> tablespaces = column(c.source, """
                SELECT DISTINCT t.spcname FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND t.spcname NOT IN ('pg_default', 'pg_global') ORDER BY 1""");
        results.add(tablespaces.isEmpty() ? pass("tablespaces", "the source uses only the default tablespace")
                : warn("tablespaces", "source objects live in tablespaces " + String.join(", ", tablespaces),
                "ferry restores without tablespaces: everything lands in the target's default tablespace.",
                "nothing to do unless you need them; then create the tablespaces on the target and move objects after the cutover (ALTER TABLE ... SET TABLESPACE)."));

        List<String> missingRoles = new ArrayList<>();
        for (String owner : column(c.source, """
                SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_' ORDER BY 1""")) {
            if (column(c.target, "SELECT 1 FROM pg_roles WHERE rolname = ?", owner).isEmpty()) missingRoles.add(owner);
        }
        results.add(missingRoles.isEmpty() ? pass("roles", "every role owning source objects exists on the target")
                : warn("roles", "roles owning source objects are missing on the target: " + String.join(", ", missingRoles),
                "ferry restores without owners or privileges: the objects will belong to " + user + " and carry no GRANTs.",
                "create the roles on the target (pg_dumpall --roles-only | psql) and re-apply ownership and GRANTs after the cutover."));

        long maxConnections = Long.parseLong(setting(c.target, "max_connections"));
        long used = number(c.target, "SELECT count(*) FROM pg_stat_activity");
        long needed = 2L * c.config.jobs() + 4; // copy workers, index builds alongside them, stream and state
        results.add(maxConnections - used >= needed
                ? pass("max-connections", "the target has room for ferry's " + needed + " connections (" + used + " of " + maxConnections + " in use)")
                : fail("max-connections", "the target has " + (maxConnections - used) + " free connections, ferry needs " + needed + " with --jobs " + c.config.jobs(),
                "copy workers would fail to connect.", "lower --jobs, or raise max_connections on the target (restart needed)."));

        String sourceEncoding = value(c.source, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").orElse("");
        String targetEncoding = value(c.target, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").orElse("");
        String sourceCollate = value(c.source, "SELECT datcollate FROM pg_database WHERE datname = current_database()").orElse("");
        String targetCollate = value(c.target, "SELECT datcollate FROM pg_database WHERE datname = current_database()").orElse("");
        if (!sourceEncoding.equals(targetEncoding) && !targetEncoding.equals("UTF8")) {
            results.add(fail("encoding", "the source database is " + sourceEncoding + ", the target " + targetEncoding,
                    "text the source holds may not be representable on the target.",
                    "create the target database with ENCODING '" + sourceEncoding + "' (or UTF8)."));
        } else if (!sourceCollate.equals(targetCollate)) {
            results.add(warn("encoding", "encodings fit (" + sourceEncoding + " -> " + targetEncoding + "), but collations differ: " + sourceCollate + " -> " + targetCollate,
                    "text sorts differently on the target: ORDER BY results and text indexes change order.",
                    "create the target database with LC_COLLATE '" + sourceCollate + "' if the application depends on the order."));
        } else {
            results.add(pass("encoding", "encoding " + sourceEncoding + " and collation " + sourceCollate + " on both sides"));
        }
        return results;
    }

    private static CheckResult contents(PreflightContext c) throws SQLException {
        String stateSchema = c.config.stateSchema();
        Optional<String> stateSlot = new StateStore(stateSchema).load(c.target).map(MigrationState::slotName);
        if (stateSlot.isPresent()) {
            return stateSlot.get().equals(c.config.slotName())
                    ? pass("target-empty", "the target holds this migration's state (slot " + stateSlot.get() + "): `ferry run` resumes it")
                    : fail("target-empty", "the target holds another migration's state (slot " + stateSlot.get() + ", schema " + stateSchema + ")",
                    "each migration into a target database keeps its state in a schema of its own, named by --migration.",
                    "pass --slot " + stateSlot.get() + " to resume it; or, to merge another source into this database, give each migration its own --migration NAME"
                            + " (and --schema-map to put their schemas apart).");
        }
        if (c.config.migration().isPresent() && c.config.schemaMode() == MigrationConfig.SchemaMode.COPY) {
            // The target may hold other migrations: the schemas this one writes into are checked one by one (target-schemas).
            return pass("target-empty", "migration " + c.config.migration().get() + " shares the target database; see target-schemas");
        }
        List<String> existing = column(c.target, """
                SELECT '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'ferry')
                  AND n.nspname !~ '^pg_' AND n.nspname !~ '^_?timescaledb'
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
                ORDER BY 1""");
        if (c.config.schemaMode() == MigrationConfig.SchemaMode.COPY) {
            return existing.isEmpty() ? pass("target-empty", "the target database has no tables")
                    : fail("target-empty", "the target already has " + existing.size() + " tables: " + String.join(", ", existing.stream().limit(10).toList())
                            + (existing.size() > 10 ? ", ..." : ""),
                    "ferry copies the schema into an empty database; restoring over existing tables would fail or mix data.",
                    "migrate into a new, empty database (CREATE DATABASE ...), or prepare the schema yourself and pass --schema existing.");
        }
        List<String> missing = new ArrayList<>();
        List<String> nonEmpty = new ArrayList<>();
        for (SourceTable table : c.tables) {
            String name = table.name().toString();
            if (value(c.target, "SELECT to_regclass(?)::text", name).isEmpty()) missing.add(name);
            else if (!column(c.target, "SELECT 1 FROM " + name + " LIMIT 1").isEmpty()) nonEmpty.add(name);
        }
        if (!missing.isEmpty()) {
            return fail("target-empty", "--schema existing, but the target lacks " + String.join(", ", missing),
                    "with --schema existing ferry copies rows into tables you prepared; these have nowhere to go.",
                    "create them on the target (pg_dump --schema-only -t ... | psql), or let ferry copy the schema (--schema copy) into an empty database.");
        }
        return nonEmpty.isEmpty() ? pass("target-empty", "--schema existing: every source table exists on the target and is empty")
                : fail("target-empty", "--schema existing, but these target tables already hold rows: " + String.join(", ", nonEmpty),
                "the copy adds every source row; existing rows would be duplicated or conflict.",
                "empty them on the target (TRUNCATE ...) if they are leftovers, or migrate into an empty database.");
    }
}
