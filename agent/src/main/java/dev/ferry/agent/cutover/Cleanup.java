package dev.ferry.agent.cutover;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.IdentityColumns;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.SourceCatalog;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.db.WalPosition;
import dev.ferry.agent.logging.Units;
import dev.ferry.agent.schema.SchemaRename;
import dev.ferry.agent.state.AgentIdentity;
import dev.ferry.agent.state.AgentLock;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * `ferry clean`: removes what an abandoned migration left behind: its replication slot (which otherwise keeps the
 * source's WAL until its disk is full) and publications on the source, and ferry's state (schema {@code ferry}) on the
 * target, and makes identity columns the stream relaxed GENERATED ALWAYS again. Refuses while an agent runs the
 * migration. The rows already copied to the target are left alone.
 */
public final class Cleanup {
    private final Database source;
    private final Database target;
    private final String defaultSlot;
    private final StateStore state;
    private final SchemaMap schemaMap;

    /** @param defaultSlot the slot to remove when the target holds no record of the migration (none, or --slot) */
    public Cleanup(Database source, Database target, String defaultSlot) {
        this(source, target, defaultSlot, new StateStore(), SchemaMap.NONE);
    }

    /**
     * @param state     the state of the migration to clean up; another migration into the same target keeps its own
     * @param schemaMap the run's --schema-map, to find the target's tables whose identity columns the stream relaxed
     */
    public Cleanup(Database source, Database target, String defaultSlot, StateStore state, SchemaMap schemaMap) {
        this.source = source;
        this.target = target;
        this.defaultSlot = defaultSlot;
        this.state = state;
        this.schemaMap = schemaMap;
    }

    /**
     * Says what it would remove, asks {@code confirm}, then removes it. Returns false when the user did not confirm.
     */
    public boolean run(PrintWriter out, BooleanSupplier confirm) {
        try (Connection dst = target.open(); Connection src = source.open()) {
            Optional<AgentIdentity> running = AgentLock.holder(dst, state.schema());
            if (running.isPresent()) {
                throw new FerryException("a ferry agent is running this migration: " + running.get().describe() + ".",
                        "removing its slot and state under it would break the migration it is following.",
                        "stop that agent first (kill " + running.get().pid() + " on " + running.get().host() + "; it resumes if started again),"
                                + " then run `ferry clean` again. Nothing was removed.", ExitCode.FAILED, null);
            }
            Optional<MigrationState> migration = state.load(dst);
            String slot = migration.map(MigrationState::slotName).orElse(defaultSlot);
            List<String> publications = existingPublications(src, slot);
            Optional<Long> retained = ReplicationSlots.exists(src, new SlotName(slot)) ? WalPosition.slot(src, slot).retainedBytes() : Optional.empty();
            boolean stateThere = state.installed(dst);
            List<String> scratch = scratchDatabases(dst);
            if (retained.isEmpty() && publications.isEmpty() && !stateThere && scratch.isEmpty()) {
                out.println("clean: nothing to remove: no slot " + slot + " or its publications on the source " + source.spec().masked()
                        + ", no ferry state on the target " + target.spec().masked() + ".");
                return true;
            }
            out.println("clean: this removes what the migration left behind:");
            retained.ifPresent(bytes -> out.println("  source " + source.spec().masked() + ": replication slot " + slot + " (retaining "
                    + Units.bytes(bytes) + " of WAL)"));
            publications.forEach(p -> out.println("  source " + source.spec().masked() + ": publication " + QualifiedName.quote(p)));
            if (stateThere) {
                out.println("  target " + target.spec().masked() + ": schema \"" + state.schema() + "\" (the migration's state"
                        + migration.map(m -> ", phase " + m.phase().text()).orElse("") + "); the tables and rows already copied stay");
            }
            scratch.forEach(d -> out.println("  target server: scratch database " + QualifiedName.quote(d) + ", left by a --schema-map run that stopped"));
            out.println("  A migration cleaned up cannot be resumed: `ferry run` then starts over (on an emptied target).");
            out.flush();
            if (!confirm.getAsBoolean()) {
                out.println("clean: not confirmed; nothing was removed.");
                return false;
            }
            if (retained.isPresent()) ReplicationSlots.drop(src, new SlotName(slot), Duration.ofSeconds(10));
            try (Statement s = src.createStatement()) {
                for (String publication : publications) s.execute("DROP PUBLICATION IF EXISTS " + QualifiedName.quote(publication));
            }
            if (stateThere) {
                // The stream made them BY DEFAULT; a target left as it is should refuse explicit ids as the source does.
                List<QualifiedName> tables = new SourceCatalog().read(src, TableFilter.NONE).stream().map(SourceTable::name).toList();
                int identities = IdentityColumns.restore(src, dst, tables, schemaMap);
                if (identities > 0) out.println("  " + identities + " identity columns are GENERATED ALWAYS again on the target, as on the source");
                state.remove(dst);
            }
            try (Statement s = dst.createStatement()) {
                for (String database : scratch) s.execute("DROP DATABASE IF EXISTS " + QualifiedName.quote(database));
            }
            out.println("clean: removed" + (retained.isPresent() ? " slot " + slot : "") + (publications.isEmpty() ? "" : " publications " + publications)
                    + (stateThere ? " and ferry's state on the target" : "") + ".");
            return true;
        } catch (SQLException e) {
            throw new FerryException("clean could not finish:", e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")",
                    "fix what the message names, then run `ferry clean` again: it removes only what is still there.", e);
        }
    }

    /** The scratch databases of this migration's --schema-map that a stopped run left on the target server. */
    private List<String> scratchDatabases(Connection dst) throws SQLException {
        List<String> found = new ArrayList<>();
        try (PreparedStatement s = dst.prepareStatement("SELECT datname FROM pg_database WHERE datname = ANY (?) ORDER BY 1")) {
            s.setArray(1, dst.createArrayOf("text", SchemaRename.scratchDatabases(state.schema()).toArray()));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) found.add(rs.getString(1));
            }
        }
        return found;
    }

    /** ferry's two publications for this slot (see {@link MigrationConfig#publication()}), where they exist. */
    private static List<String> existingPublications(Connection src, String slot) throws SQLException {
        List<String> found = new ArrayList<>();
        try (PreparedStatement s = src.prepareStatement("SELECT pubname FROM pg_publication WHERE pubname IN (?, ?) ORDER BY pubname")) {
            s.setString(1, MigrationConfig.publication(slot));
            s.setString(2, MigrationConfig.insertOnlyPublication(slot));
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) found.add(rs.getString(1));
            }
        }
        return found;
    }
}
