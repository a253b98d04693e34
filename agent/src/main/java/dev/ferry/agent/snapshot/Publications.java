package dev.ferry.agent.snapshot;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.QualifiedName;
import dev.ferry.agent.db.SourceTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;

/**
 * ferry's two publications on the source. Tables whose rows can be identified go in one that publishes everything;
 * tables with no tuple identifier go in one that publishes only inserts and truncates, because PostgreSQL refuses
 * UPDATE and DELETE on a table that publishes them without a replica identity: the application would break.
 * Both publish partitions through their root so the target routes rows itself.
 */
public final class Publications {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    private final MigrationConfig config;

    public Publications(MigrationConfig config) {
        this.config = config;
    }

    /** Creates both publications unless they exist. Must run before the slot is created, or the slot cannot use them. */
    public void create(Connection source, List<SourceTable> tables) throws SQLException {
        List<SourceTable> full = tables.stream().filter(SourceTable::identified).toList();
        List<SourceTable> insertOnly = tables.stream().filter(t -> !t.identified()).toList();
        String generated = sendsGeneratedColumns(source.getMetaData().getDatabaseMajorVersion()) ? ", publish_generated_columns = stored" : "";
        create(source, config.publication(), full, "publish_via_partition_root = true" + generated);
        create(source, config.insertOnlyPublication(), insertOnly, "publish = 'insert, truncate', publish_via_partition_root = true" + generated);
        warnAboutInsertOnly(insertOnly, "snapshot");
    }

    /**
     * Whether ferry's publications on a source of this major version send stored generated columns. PostgreSQL 18
     * refuses UPDATE and DELETE on a table whose replica identity (FULL, or an index) holds a generated column the
     * publication does not send ("Replica identity must not contain unpublished generated columns"): the application
     * would break. So from 18 on they are sent, and the apply leaves them to the target to compute. Before 18 they
     * cannot be sent.
     */
    public static boolean sendsGeneratedColumns(int sourceMajor) {
        return sourceMajor >= 18;
    }

    /** Logs the "no tuple identifier" warning for each insert-only table on the given stage's logger. */
    public static void warnAboutInsertOnly(List<SourceTable> insertOnly, String stage) {
        Logger stageLog = LoggerFactory.getLogger("ferry." + stage);
        for (SourceTable table : insertOnly) {
            // NOTE: this wording matches the field's FAQ ("no tuple identifier"); people search for it.
            stageLog.warn("WARNING: no tuple identifier for UPDATE/DELETE in table {}; only inserts are migrated. Fix: ALTER TABLE {} REPLICA IDENTITY FULL (or add a primary key), then restart ferry.{}",
                    table.name(), table.name(), table.leavesWithoutIdentity().isEmpty() ? ""
                            : " Partitions without one: " + table.leavesWithoutIdentity().stream().map(QualifiedName::toString).collect(Collectors.joining(", ")) + " (replica identity is set per partition).");
        }
    }

    private void create(Connection source, String name, List<SourceTable> tables, String options) throws SQLException {
        if (exists(source, name)) {
            log.info("publication {} already exists; keeping it", QualifiedName.quote(name));
            return;
        }
        String tableList = tables.stream()
                .map(t -> t.partitioned() ? t.name().toString() : "ONLY " + t.name())
                .collect(Collectors.joining(", "));
        String sql = "CREATE PUBLICATION " + QualifiedName.quote(name) + (tables.isEmpty() ? "" : " FOR TABLE " + tableList) + " WITH (" + options + ")";
        try (Statement s = source.createStatement()) {
            s.execute(sql);
        }
        log.info("created publication {} with {} tables", QualifiedName.quote(name), tables.size());
    }

    static boolean exists(Connection source, String name) throws SQLException {
        try (PreparedStatement s = source.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?")) {
            s.setString(1, name);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Drops both publications if they exist. */
    public void drop(Connection source) throws SQLException {
        try (Statement s = source.createStatement()) {
            s.execute("DROP PUBLICATION IF EXISTS " + QualifiedName.quote(config.publication()));
            s.execute("DROP PUBLICATION IF EXISTS " + QualifiedName.quote(config.insertOnlyPublication()));
        }
    }
}
