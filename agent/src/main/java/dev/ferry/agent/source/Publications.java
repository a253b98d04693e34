package dev.ferry.agent.source;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.PhysicalTable;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.agent.db.SourceTable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * ferry's two publications on the source. Tables whose rows can be identified go in one that publishes everything;
 * tables with no tuple identifier go in one that publishes only inserts and truncates, because PostgreSQL refuses
 * UPDATE and DELETE on a table that publishes them without a replica identity: the application would break.
 * <p>
 * Partitions are published each on its own, never through their root (publish_via_partition_root off): PostgreSQL
 * logs a partition's old rows by the partition's replica identity, which the root's may not match (a root without a
 * key over partitions with one; a FULL root over a partition with a key, whose UPDATE then carries no old row at all).
 * Published as itself, each partition comes with its own identity, and a TRUNCATE of one partition is replicated too.
 * A partition without an identity goes in the insert-only publication while its siblings stream everything. A tree
 * whose root has a primary key is listed by its root, so a partition created during the migration is published too
 * (and inherits the key); other trees list their partitions, so a new partition without an identity is not
 * published for updates, which would make the source refuse the application's UPDATE and DELETE on it.
 */
public final class Publications {
    private static final Logger log = LoggerFactory.getLogger("ferry.snapshot");

    private final MigrationConfig config;

    public Publications(MigrationConfig config) {
        this.config = config;
    }

    /** Creates both publications unless they exist. Must run before the slot is created, or the slot cannot use them. */
    public void create(Connection source, List<SourceTable> tables) throws SQLException {
        List<String> full = new ArrayList<>();
        List<String> insertOnly = new ArrayList<>();
        for (SourceTable table : tables) {
            if (table.wholeTree()) {
                full.add(table.name().toString());
                continue;
            }
            for (QualifiedName relation : table.publishedRelations(true)) full.add("ONLY " + relation);
            for (QualifiedName relation : table.publishedRelations(false)) insertOnly.add("ONLY " + relation);
        }
        // A hypertable's rows are written into its chunks, including chunks TimescaleDB creates during the migration. A
        // chunk must be in the publication in the transaction that creates it, or its first rows are lost, so the
        // schemas holding chunks are published whole (PostgreSQL 15+). Preflight made sure every hypertable has a
        // replica identity, which its chunks share: otherwise the source would refuse the application's UPDATE on them.
        if (tables.stream().anyMatch(t -> t.physical().stream().anyMatch(PhysicalTable::hypertable))) {
            for (String schema : chunkSchemas(source)) full.add("TABLES IN SCHEMA " + QualifiedName.quote(schema));
        }
        String generated = sendsGeneratedColumns(source.getMetaData().getDatabaseMajorVersion()) ? ", publish_generated_columns = stored" : "";
        create(source, config.publication(), full, "publish_via_partition_root = false" + generated);
        create(source, config.insertOnlyPublication(), insertOnly, "publish = 'insert, truncate', publish_via_partition_root = false" + generated);
        warnAboutInsertOnly(tables.stream().filter(t -> !t.identified()).toList(), "snapshot");
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
            if (table.partitioned()) {
                String leaves = table.leavesWithoutIdentity().stream().map(QualifiedName::toString).collect(Collectors.joining(", "));
                stageLog.warn("WARNING: no tuple identifier for UPDATE/DELETE in table {}: its partitions {} have none, so only their inserts are migrated"
                                + " (its other partitions are followed in full; replica identity is set per partition). Fix: ALTER TABLE ... REPLICA IDENTITY FULL"
                                + " (or add a primary key) on each of them, then restart ferry.", table.name(), leaves);
            } else {
                stageLog.warn("WARNING: no tuple identifier for UPDATE/DELETE in table {}; only inserts are migrated. Fix: ALTER TABLE {} REPLICA IDENTITY FULL (or add a primary key), then restart ferry.",
                        table.name(), table.name());
            }
        }
    }

    /**
     * @param tables the FOR TABLE entries: {@code ONLY "s"."t"}, or a partitioned root whose partitions all go in, or
     *               {@code TABLES IN SCHEMA "s"}
     */
    private void create(Connection source, String name, List<String> tables, String options) throws SQLException {
        if (exists(source, name)) {
            log.info("publication {} already exists; keeping it", QualifiedName.quote(name));
            return;
        }
        // FOR TABLE a, b[, TABLES IN SCHEMA s]: the form PostgreSQL 13 and 14 accept when no schema is published; a
        // schema comes last, since a bare name after it would be read as another schema.
        List<String> relations = tables.stream().filter(t -> !t.startsWith("TABLES IN SCHEMA ")).toList();
        List<String> entries = new ArrayList<>();
        if (!relations.isEmpty()) entries.add("TABLE " + String.join(", ", relations));
        entries.addAll(tables.stream().filter(t -> t.startsWith("TABLES IN SCHEMA ")).toList());
        String sql = "CREATE PUBLICATION " + QualifiedName.quote(name) + (entries.isEmpty() ? "" : " FOR " + String.join(", ", entries)) + " WITH (" + options + ")";
        try (Statement s = source.createStatement()) {
            s.execute(sql);
        }
        log.info("created publication {} with {} tables", QualifiedName.quote(name), tables.size());
    }

    /** The schemas TimescaleDB creates chunks in (its compressed chunks too, which the stream ignores). */
    private static List<String> chunkSchemas(Connection source) throws SQLException {
        List<String> schemas = new ArrayList<>();
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT DISTINCT associated_schema_name FROM _timescaledb_catalog.hypertable ORDER BY 1")) {
            while (rs.next()) schemas.add(rs.getString(1));
        }
        return schemas;
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
