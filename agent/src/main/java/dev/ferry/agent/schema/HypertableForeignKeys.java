package dev.ferry.agent.schema;

import dev.ferry.agent.config.TableFilter;
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
import java.util.Set;

/**
 * Foreign keys declared on TimescaleDB hypertables (from a hypertable to another table). pg_dump writes them as
 * {@code ALTER TABLE ONLY t ADD CONSTRAINT ...}, which TimescaleDB refuses on a hypertable ("ONLY option not supported
 * on hypertable operations"), so post-data leaves their entries out and they are made here without {@code ONLY}:
 * TimescaleDB then adds the key to every chunk itself. A foreign key from a plain table to a hypertable is an ordinary
 * one and stays with pg_restore. Safe to run again: a key that exists on the target is skipped.
 */
final class HypertableForeignKeys {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /** OID, table, name and definition (read with an empty search_path: every name qualified) of each such key. */
    private static final String KEYS = """
            SELECT co.oid, n.nspname, t.relname, co.conname, pg_get_constraintdef(co.oid)
            FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN _timescaledb_catalog.hypertable h ON h.schema_name = n.nspname AND h.table_name = t.relname
            WHERE co.contype = 'f' ORDER BY n.nspname, t.relname, co.conname""";

    record Key(long oid, QualifiedName table, String name, String definition) {}

    private HypertableForeignKeys() {}

    /** The source's foreign keys on hypertables; empty without TimescaleDB. */
    static List<Key> read(Connection source) throws SQLException {
        List<Key> keys = new ArrayList<>();
        if (!Hypertables.hasTimescale(source)) return keys;
        try (Statement s = source.createStatement()) {
            s.execute("SET search_path = ''");
            try (ResultSet rs = s.executeQuery(KEYS)) {
                while (rs.next()) keys.add(new Key(rs.getLong(1), new QualifiedName(rs.getString(2), rs.getString(3)), rs.getString(4), rs.getString(5)));
            } finally {
                s.execute("RESET search_path");
            }
        }
        return keys;
    }

    /** Makes each key of {@code keys} whose table is migrated and that the target lacks. */
    static void create(Connection target, List<Key> keys, TableFilter tables) throws SQLException {
        for (Key key : keys) {
            if (!tables.migrates(key.table())) continue;
            try (PreparedStatement exists = target.prepareStatement("""
                    SELECT 1 FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                    WHERE n.nspname = ? AND t.relname = ? AND co.conname = ?""")) {
                exists.setString(1, key.table().schema());
                exists.setString(2, key.table().name());
                exists.setString(3, key.name());
                try (ResultSet rs = exists.executeQuery()) {
                    if (rs.next()) continue;
                }
            }
            long started = System.nanoTime();
            try (Statement s = target.createStatement()) {
                s.execute("ALTER TABLE " + key.table() + " ADD CONSTRAINT " + QualifiedName.quote(key.name()) + " " + key.definition());
            }
            log.info("post-data: foreign key {} on hypertable {} built in {} ms", QualifiedName.quote(key.name()), key.table(),
                    (System.nanoTime() - started) / 1_000_000);
        }
    }
}
