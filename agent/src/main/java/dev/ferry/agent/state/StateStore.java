package dev.ferry.agent.state;

import dev.ferry.agent.name.QualifiedName;
import dev.ferry.replication.Lsn;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * ferry's own tables in schema {@code ferry} on the target: the migration's phase, the applied LSN, copy progress
 * and cutover requests. Living on the target is what makes ferry restartable from any host and exactly-once: the
 * applied LSN is written in the same target transaction as the rows it covers.
 * Methods take the connection to use, so callers choose the transaction they belong to.
 */
public final class StateStore {
    public static final String SCHEMA = "ferry";

    /** ferry_NAME of a named migration, or ferry; only [a-z0-9_], so it needs no quoting (see MigrationConfig#stateSchema). */
    private final String schema;

    /** The unnamed migration's state, in schema {@code ferry}. */
    public StateStore() {
        this(SCHEMA);
    }

    public StateStore(String schema) {
        if (!schema.matches("ferry(_[a-z0-9_]{1,40})?")) throw new IllegalArgumentException("not a ferry state schema: " + schema);
        this.schema = schema;
    }

    /** The schema on the target holding this migration's state. */
    public String schema() { return schema; }

    /** Statements are written against schema ferry; this aims one at this migration's own state schema. */
    public String sql(String text) {
        return schema.equals(SCHEMA) ? text : text.replace("ferry.", schema + ".").replace("SCHEMA IF NOT EXISTS ferry", "SCHEMA IF NOT EXISTS " + schema);
    }

    /** Creates ferry's tables if missing. Idempotent. */
    public void install(Connection target) throws SQLException {
        try (Statement s = target.createStatement()) {
            s.execute(sql("CREATE SCHEMA IF NOT EXISTS ferry"));
            s.execute(sql("""
                    CREATE TABLE IF NOT EXISTS ferry.migration (
                        id int PRIMARY KEY CHECK (id = 1),
                        slot_name text NOT NULL,
                        source text NOT NULL,
                        phase text NOT NULL,
                        consistent_lsn pg_lsn NOT NULL,
                        applied_lsn pg_lsn NOT NULL,
                        started_at timestamptz NOT NULL DEFAULT now(),
                        heartbeat_at timestamptz,
                        cutover_requested_at timestamptz,
                        cutover_lsn pg_lsn,
                        cutover_error text,
                        finished_at timestamptz,
                        summary text)"""));
            // Added after the first release: a migration started by an older ferry gets them when its agent restarts.
            // Only then: ALTER TABLE would lock out `ferry status` and `ferry cutover` at every start.
            boolean agentColumns;
            try (ResultSet rs = s.executeQuery(sql("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ferry.migration'::regclass"
                    + " AND attname = 'agent_error' AND NOT attisdropped)"))) {
                rs.next();
                agentColumns = rs.getBoolean(1);
            }
            if (!agentColumns) {
                s.execute(sql("""
                        ALTER TABLE ferry.migration
                            ADD COLUMN IF NOT EXISTS agent_host text,
                            ADD COLUMN IF NOT EXISTS agent_pid bigint,
                            ADD COLUMN IF NOT EXISTS agent_started_at timestamptz,
                            ADD COLUMN IF NOT EXISTS agent_error text"""));
            }
            s.execute(sql("""
                    CREATE TABLE IF NOT EXISTS ferry.copy_progress (
                        schema_name text NOT NULL,
                        table_name text NOT NULL,
                        chunk int NOT NULL,
                        chunks int NOT NULL,
                        sync_lsn pg_lsn NOT NULL,
                        rows bigint NOT NULL,
                        bytes bigint NOT NULL,
                        seconds double precision NOT NULL,
                        done_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (schema_name, table_name, chunk))"""));
            s.execute(sql("""
                    CREATE TABLE IF NOT EXISTS ferry.copy_plan (
                        schema_name text NOT NULL,
                        table_name text NOT NULL,
                        chunks int NOT NULL,
                        disk_bytes bigint NOT NULL,
                        planned_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (schema_name, table_name))"""));
        }
    }

    public Optional<MigrationState> load(Connection target) throws SQLException {
        if (!installed(target)) return Optional.empty();
        // The agent's columns through to_jsonb: `ferry status` and `ferry cutover` also read a state an older agent wrote.
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery(sql("SELECT slot_name, phase, consistent_lsn::text, applied_lsn::text, heartbeat_at,"
                     + " cutover_lsn::text, cutover_error, summary, to_jsonb(m)->>'agent_host', (to_jsonb(m)->>'agent_pid')::bigint,"
                     + " (to_jsonb(m)->>'agent_started_at')::timestamptz, to_jsonb(m)->>'agent_error' FROM ferry.migration m WHERE id = 1"))) {
            if (!rs.next()) return Optional.empty();
            Timestamp heartbeat = rs.getTimestamp(5);
            Optional<AgentIdentity> agent = rs.getString(9) == null ? Optional.empty() : Optional.of(new AgentIdentity(rs.getString(9),
                    rs.getLong(10), Optional.ofNullable(rs.getTimestamp(11)).map(Timestamp::toInstant)));
            return Optional.of(new MigrationState(rs.getString(1), MigrationState.Phase.parse(rs.getString(2)),
                    Lsn.parse(rs.getString(3)), Lsn.parse(rs.getString(4)),
                    Optional.ofNullable(heartbeat).map(Timestamp::toInstant),
                    Optional.ofNullable(rs.getString(6)).map(Lsn::parse),
                    Optional.ofNullable(rs.getString(7)), Optional.ofNullable(rs.getString(8)),
                    agent, Optional.ofNullable(rs.getString(12))));
        }
    }

    /** The named migrations whose state is on the target ({@code ferry_NAME} schemas), for a command that was given none. */
    public static java.util.List<String> namedMigrations(Connection target) throws SQLException {
        java.util.List<String> names = new java.util.ArrayList<>();
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery("SELECT substr(nspname, 7) FROM pg_namespace WHERE nspname ~ '^ferry_[a-z0-9_]+$'"
                     + " AND to_regclass(quote_ident(nspname) || '.migration') IS NOT NULL ORDER BY 1")) {
            while (rs.next()) names.add(rs.getString(1));
        }
        return names;
    }

    /** Whether the target has ferry's state at all (read-only; used by status, cutover and preflight). */
    public boolean installed(Connection target) throws SQLException {
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery(sql("SELECT to_regclass('ferry.migration') IS NOT NULL"))) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** Starts a new migration record (replacing any unfinished one of an abandoned attempt). */
    public void begin(Connection target, String slotName, String sourceMasked, Lsn consistentLsn) throws SQLException {
        try (Statement clear = target.createStatement()) {
            clear.execute(sql("DELETE FROM ferry.migration"));
            clear.execute(sql("DELETE FROM ferry.copy_progress"));
            clear.execute(sql("DELETE FROM ferry.copy_plan"));
        }
        try (PreparedStatement s = target.prepareStatement(sql(
                "INSERT INTO ferry.migration (id, slot_name, source, phase, consistent_lsn, applied_lsn)"
                        + " VALUES (1, ?, ?, 'schema', ?::pg_lsn, ?::pg_lsn)"))) {
            s.setString(1, slotName);
            s.setString(2, sourceMasked);
            s.setString(3, consistentLsn.toString());
            s.setString(4, consistentLsn.toString());
            s.executeUpdate();
        }
    }

    /** The agent holding the lock records itself, and clears the error the one before it stopped on. */
    public void recordAgent(Connection target, AgentIdentity agent) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET agent_host = ?, agent_pid = ?,"
                + " agent_started_at = ?, agent_error = NULL WHERE id = 1"))) {
            s.setString(1, agent.host());
            s.setLong(2, agent.pid());
            s.setTimestamp(3, agent.since().map(Timestamp::from).orElse(null));
            s.executeUpdate();
        }
    }

    /** The agent is stopping on an error: `ferry cutover` and `ferry status` show it once no agent runs. */
    public void recordAgentError(Connection target, String error) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET agent_error = ? WHERE id = 1"))) {
            s.setString(1, error);
            s.executeUpdate();
        }
    }

    public void setPhase(Connection target, MigrationState.Phase phase) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET phase = ? WHERE id = 1"))) {
            s.setString(1, phase.text());
            s.executeUpdate();
        }
    }

    /** Records a source transaction as applied. Call inside the target transaction that holds its rows. */
    public void recordApplied(Connection target, Lsn endLsn) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET applied_lsn = ?::pg_lsn WHERE id = 1 AND applied_lsn < ?::pg_lsn"))) {
            s.setString(1, endLsn.toString());
            s.setString(2, endLsn.toString());
            s.executeUpdate();
        }
    }

    /**
     * Heartbeat from the running agent, with the position everything is applied to (only ever moves forward);
     * returns the cutover LSN once `ferry cutover` has asked for one.
     */
    public Optional<Lsn> heartbeat(Connection target, Lsn applied) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET heartbeat_at = now(),"
                + " applied_lsn = greatest(applied_lsn, ?::pg_lsn) WHERE id = 1 RETURNING cutover_lsn::text"))) {
            s.setString(1, applied.toString());
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? Optional.ofNullable(rs.getString(1)).map(Lsn::parse) : Optional.empty();
            }
        }
    }

    /** `ferry cutover` asks the agent to drain to {@code lsn}; clears any earlier error. */
    public void requestCutover(Connection target, Lsn lsn) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET cutover_requested_at = now(),"
                + " cutover_lsn = ?::pg_lsn, cutover_error = NULL WHERE id = 1"))) {
            s.setString(1, lsn.toString());
            s.executeUpdate();
        }
    }

    /** `ferry cutover` gives up on its request {@code lsn} (no agent is left to act on it); a newer request stays. */
    public void withdrawCutover(Connection target, Lsn lsn) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET cutover_lsn = NULL WHERE id = 1 AND cutover_lsn = ?::pg_lsn"))) {
            s.setString(1, lsn.toString());
            s.executeUpdate();
        }
    }

    /** The agent could not finish the cutover: tell the waiting `ferry cutover` why, and withdraw the request. */
    public void failCutover(Connection target, String error) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET cutover_error = ?, cutover_lsn = NULL WHERE id = 1"))) {
            s.setString(1, error);
            s.executeUpdate();
        }
    }

    public void finish(Connection target, String summary) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("UPDATE ferry.migration SET phase = 'done', finished_at = now(), summary = ? WHERE id = 1"))) {
            s.setString(1, summary);
            s.executeUpdate();
        }
    }

    /** Records one copied chunk. Call inside the target transaction that holds its rows. */
    public void recordChunk(Connection target, QualifiedName table, int chunk, int chunks, Lsn syncLsn, long rows, long bytes, double seconds) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("INSERT INTO ferry.copy_progress"
                + " (schema_name, table_name, chunk, chunks, sync_lsn, rows, bytes, seconds) VALUES (?, ?, ?, ?, ?::pg_lsn, ?, ?, ?)"))) {
            s.setString(1, table.schema());
            s.setString(2, table.name());
            s.setInt(3, chunk);
            s.setInt(4, chunks);
            s.setString(5, syncLsn.toString());
            s.setLong(6, rows);
            s.setLong(7, bytes);
            s.setDouble(8, seconds);
            s.executeUpdate();
        }
    }

    /** Tables whose every chunk is copied, with the LSN their copy is consistent with. */
    public Map<QualifiedName, Lsn> copiedTables(Connection target) throws SQLException {
        Map<QualifiedName, Lsn> copied = new HashMap<>();
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery(sql("SELECT schema_name, table_name, max(sync_lsn)::text FROM ferry.copy_progress"
                     + " GROUP BY schema_name, table_name HAVING count(*) = max(chunks)"))) {
            while (rs.next()) copied.put(new QualifiedName(rs.getString(1), rs.getString(2)), Lsn.parse(rs.getString(3)));
        }
        return copied;
    }

    /** Forgets partial progress of a table about to be copied again. */
    public void forgetTable(Connection target, QualifiedName table) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("DELETE FROM ferry.copy_progress WHERE schema_name = ? AND table_name = ?"))) {
            s.setString(1, table.schema());
            s.setString(2, table.name());
            s.executeUpdate();
        }
    }

    /** Totals of the copy, for the summary: tables, rows, bytes. */
    public CopyTotals copyTotals(Connection target) throws SQLException {
        Set<String> tables = new TreeSet<>();
        long rows = 0;
        long bytes = 0;
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery(sql("SELECT schema_name, table_name, rows, bytes FROM ferry.copy_progress"))) {
            while (rs.next()) {
                tables.add(rs.getString(1) + "." + rs.getString(2));
                rows += rs.getLong(3);
                bytes += rs.getLong(4);
            }
        }
        return new CopyTotals(tables.size(), rows, bytes);
    }

    public record CopyTotals(int tables, long rows, long bytes) {}

    /** Records what a copy is about to do, so `ferry status` can tell how far it has come from any host. */
    public void recordPlan(Connection target, Map<QualifiedName, PlannedTable> tables) throws SQLException {
        try (PreparedStatement s = target.prepareStatement(sql("INSERT INTO ferry.copy_plan (schema_name, table_name, chunks, disk_bytes)"
                + " VALUES (?, ?, ?, ?) ON CONFLICT (schema_name, table_name) DO UPDATE SET chunks = EXCLUDED.chunks,"
                + " disk_bytes = EXCLUDED.disk_bytes, planned_at = now()"))) {
            for (Map.Entry<QualifiedName, PlannedTable> table : tables.entrySet()) {
                s.setString(1, table.getKey().schema());
                s.setString(2, table.getKey().name());
                s.setInt(3, table.getValue().chunks());
                s.setLong(4, table.getValue().diskBytes());
                s.addBatch();
            }
            s.executeBatch();
        }
    }

    public record PlannedTable(int chunks, long diskBytes) {}

    /**
     * How far the copy has come against its plan: tables and size on disk (a chunk counts its share of its table),
     * and the copy's rate so far; absent before a plan is recorded.
     */
    public Optional<CopyStatus> copyStatus(Connection target) throws SQLException {
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery(sql("""
                     SELECT count(*), coalesce(sum(p.disk_bytes), 0),
                            count(*) FILTER (WHERE d.done = p.chunks), coalesce(sum(p.disk_bytes * d.done / p.chunks), 0),
                            extract(epoch FROM now() - min(p.planned_at))
                     FROM ferry.copy_plan p
                     LEFT JOIN LATERAL (SELECT count(*) AS done FROM ferry.copy_progress c
                                        WHERE c.schema_name = p.schema_name AND c.table_name = p.table_name) d ON true"""))) {
            rs.next();
            if (rs.getInt(1) == 0) return Optional.empty();
            return Optional.of(new CopyStatus(rs.getInt(1), rs.getInt(3), rs.getLong(2), rs.getLong(4), rs.getDouble(5)));
        }
    }

    /** @param seconds since the plan was recorded */
    public record CopyStatus(int tables, int tablesDone, long plannedBytes, long doneBytes, double seconds) {
        /** Seconds left at the rate so far; absent until something is done. */
        public OptionalDouble etaSeconds() {
            if (doneBytes == 0 || seconds <= 0) return OptionalDouble.empty();
            return OptionalDouble.of((plannedBytes - doneBytes) / (doneBytes / seconds));
        }
    }

    /**
     * The tables the copy planned or copied into that still exist on the target: what --restart-copy may empty, since
     * ferry wrote to them and to no other.
     */
    public List<QualifiedName> tablesPlannedOrCopied(Connection target) throws SQLException {
        return tablesPlannedOrCopied(target, UnaryOperator.identity());
    }

    /**
     * The same, where ferry's state records each table by its source name and {@code onTarget} gives its name on the
     * target (--schema-map): the target's names of those that exist there.
     */
    public List<QualifiedName> tablesPlannedOrCopied(Connection target, UnaryOperator<QualifiedName> onTarget) throws SQLException {
        List<QualifiedName> recorded = new ArrayList<>();
        try (Statement s = target.createStatement(); ResultSet rs = s.executeQuery(sql("""
                SELECT schema_name, table_name FROM ferry.copy_plan
                UNION SELECT schema_name, table_name FROM ferry.copy_progress ORDER BY 1, 2"""))) {
            while (rs.next()) recorded.add(onTarget.apply(new QualifiedName(rs.getString(1), rs.getString(2))));
        }
        List<QualifiedName> tables = new ArrayList<>();
        try (PreparedStatement s = target.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            for (QualifiedName table : recorded) {
                s.setString(1, table.toString());
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    if (rs.getBoolean(1)) tables.add(table);
                }
            }
        }
        return tables;
    }

    /** Whole seconds since the migration began (its first `ferry run`), by the target's clock. */
    public long secondsSinceStart(Connection target) throws SQLException {
        try (Statement s = target.createStatement();
             ResultSet rs = s.executeQuery(sql("SELECT extract(epoch FROM now() - started_at)::bigint FROM ferry.migration"))) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Drops this migration's state, all of its schema ({@code ferry} or {@code ferry_NAME}), if it is there. In the caller's transaction if it has one. */
    public void remove(Connection target) throws SQLException {
        try (Statement s = target.createStatement()) {
            s.execute("DROP SCHEMA IF EXISTS " + QualifiedName.quote(schema) + " CASCADE");
        }
    }
}
