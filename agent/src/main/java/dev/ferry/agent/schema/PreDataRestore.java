package dev.ferry.agent.schema;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Restores pre-data (schemas, extensions, types, functions, tables, sequences, views) into the target so that
 * running it again is safe. The restore is one transaction, so an interrupted run leaves nothing behind; a run
 * after a completed one drops and recreates the same objects ({@code --clean --if-exists}), which is harmless
 * because pre-data runs before any row is copied, and refused when a table on the target already holds rows.
 */
final class PreDataRestore {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    private final Connection source;
    private final Connection target;

    PreDataRestore(Connection source, Connection target) {
        this.source = source;
        this.target = target;
    }

    /** Which entries to restore: all but extension comments, and extensions and schemas the target already has. */
    List<TocEntry> select(List<TocEntry> entries) throws SQLException {
        Map<Long, CatalogObject> extensions = CatalogObject.lookUp(source, TocEntry.PG_EXTENSION, oids(entries, TocEntry.PG_EXTENSION));
        Map<Long, CatalogObject> schemas = CatalogObject.lookUp(source, TocEntry.PG_NAMESPACE, oids(entries, TocEntry.PG_NAMESPACE));
        List<TocEntry> selected = new ArrayList<>();
        for (TocEntry entry : entries) {
            if (entry.isExtensionComment() || entry.isSourceOnly()) continue;
            CatalogObject object = entry.catalog() == TocEntry.PG_EXTENSION ? extensions.get(entry.oid())
                    : entry.catalog() == TocEntry.PG_NAMESPACE ? schemas.get(entry.oid()) : null;
            // Kept, never dropped and recreated: the target's extension may be used by other databases' objects or
            // owned by another role, and the schema may hold objects the dump does not know about.
            if (object != null && object.existsOn(target)) {
                if (entry.catalog() == TocEntry.PG_EXTENSION) refuseMovedExtension(object.name());
                log.info("pre-data: {} already exists on the target; kept as it is", object);
                continue;
            }
            selected.add(entry);
        }
        return selected;
    }

    /**
     * Fails if the target has the extension in another schema than the source: the dump names the extension's types,
     * functions and operator classes in the source's schema, so restoring would fail part-way, or later in post-data.
     */
    private void refuseMovedExtension(String extension) throws SQLException {
        String onSource = installedSchema(source, extension);
        String onTarget = installedSchema(target, extension);
        if (onSource.equals(onTarget)) return;
        String name = QualifiedName.quote(extension);
        throw new FerryException("extension " + name + " is in schema " + QualifiedName.quote(onTarget) + " on the target, but in "
                + QualifiedName.quote(onSource) + " on the source.",
                "ferry keeps an extension the target already has as it is, and the source's schema refers to the extension's objects in "
                        + QualifiedName.quote(onSource) + ". Nothing of the source's schema was restored yet.",
                "on the target, move it if nothing there depends on where it is: CREATE SCHEMA IF NOT EXISTS " + QualifiedName.quote(onSource)
                        + "; ALTER EXTENSION " + name + " SET SCHEMA " + QualifiedName.quote(onSource)
                        + "; (or drop it and let ferry create it), then run ferry again.",
                ExitCode.BAD_INPUT, null);
    }

    private static String installedSchema(Connection connection, String extension) throws SQLException {
        return extensionSchema(connection, extension)
                .orElseThrow(() -> new IllegalStateException("extension " + extension + " vanished while pre-data was chosen"));
    }

    /** The schema {@code extension} is installed in on this server; empty when it is not installed. */
    static Optional<String> extensionSchema(Connection connection, String extension) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ?")) {
            ps.setString(1, extension);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
            }
        }
    }

    /** Fails if any table of the dump already holds rows on the target: --clean would drop them. */
    void refuseToDropRows(List<TocEntry> entries) throws SQLException {
        Map<Long, CatalogObject> relations = CatalogObject.lookUp(source, TocEntry.PG_CLASS, oids(entries, TocEntry.PG_CLASS));
        for (CatalogObject relation : relations.values()) {
            if (!"table".equals(relation.kind()) || !relation.existsOn(target)) continue;
            QualifiedName table = new QualifiedName(relation.schema(), relation.name());
            try (Statement s = target.createStatement(); ResultSet rs = s.executeQuery("SELECT EXISTS (SELECT 1 FROM " + table + ")")) {
                rs.next();
                if (rs.getBoolean(1)) {
                    throw new FerryException("the target already holds rows in " + table + ".",
                            "ferry creates the tables itself before copying, and to do so it would drop this one; it never drops rows.",
                            "point --target at an empty database; or, if the schema on the target is already right, run with --schema existing.",
                            ExitCode.BAD_INPUT, null);
                }
            }
        }
    }

    static List<String> options() {
        return List.of("--single-transaction", "--clean", "--if-exists");
    }

    static List<Long> oids(List<TocEntry> entries, long catalog) {
        List<Long> oids = new ArrayList<>();
        for (TocEntry e : entries) if (e.catalog() == catalog) oids.add(e.oid());
        return oids;
    }
}
