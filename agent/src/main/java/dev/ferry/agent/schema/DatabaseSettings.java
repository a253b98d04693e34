package dev.ferry.agent.schema;

import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The source database's own settings ({@code ALTER DATABASE ... SET}, e.g. {@code search_path}): they are part of how
 * the migrated database behaves, but pg_dump writes them only with {@code --create}, under the source database's name,
 * so ferry sets them on the target database under its own name. That happens at the end of post-data: the copy is
 * over by then, and ferry's own target sessions set what they rely on (timeouts, {@code session_replication_role})
 * themselves. Settings for one role in the database ({@code ALTER ROLE ... IN DATABASE}) are not copied, as roles
 * are not.
 */
final class DatabaseSettings {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /**
     * Settings whose value is a list that the server stores with each element double-quoted where needed
     * (GUC_LIST_QUOTE); pg_dump's {@code variable_is_guc_list_quote} names the same ones.
     */
    private static final Set<String> LIST_QUOTED = Set.of("local_preload_libraries", "search_path", "session_preload_libraries",
            "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories");

    private static final String SETTINGS = """
            SELECT u.setting FROM pg_db_role_setting s, unnest(s.setconfig) WITH ORDINALITY AS u(setting, position)
            WHERE s.setrole = 0 AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY u.position""";

    private DatabaseSettings() {}

    /** How many database-level settings {@code db} has. */
    static int count(Connection db) throws SQLException {
        try (Statement s = db.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM (" + SETTINGS + ") t")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Sets every database-level setting of the source on the target's database; a refused one is a WARN with the statement. */
    static void apply(Connection source, Connection target) throws SQLException {
        List<String> statements = statements(settings(source), currentDatabase(target));
        List<String> applied = new ArrayList<>();
        try (Statement s = target.createStatement()) {
            for (String sql : statements) {
                try {
                    s.execute(sql);
                    applied.add(sql);
                } catch (SQLException e) {
                    // A setting is not data: the migration goes on, and the DBA can run the statement once allowed.
                    log.warn("post-data: a setting of the source database was not set on the target: {}\n  why:  {} (SQLSTATE {})\n"
                                    + "  fix:  run the statement on the target as the database's owner (a superuser for superuser-only settings).",
                            sql, e.getMessage(), e.getSQLState());
                }
            }
        }
        if (!applied.isEmpty()) log.info("post-data: set {} settings of the source database on the target database: {}", applied.size(), String.join("; ", applied));
    }

    /** {@code name=value} texts as the source stores them. */
    static List<String> settings(Connection source) throws SQLException {
        List<String> settings = new ArrayList<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(SETTINGS)) {
            while (rs.next()) settings.add(rs.getString(1));
        }
        return settings;
    }

    /** {@code ALTER DATABASE} statements giving {@code database} these stored settings, values quoted as pg_dump does. */
    static List<String> statements(List<String> settings, String database) {
        List<String> sql = new ArrayList<>();
        for (String setting : settings) {
            int equals = setting.indexOf('=');
            if (equals <= 0) continue; // the server never stores one without a name
            String name = setting.substring(0, equals);
            String value = setting.substring(equals + 1);
            List<String> literals = new ArrayList<>();
            if (LIST_QUOTED.contains(name.toLowerCase(Locale.ROOT))) {
                for (String element : listElements(value)) literals.add(QualifiedName.literal(element));
            } else {
                literals.add(QualifiedName.literal(value));
            }
            sql.add("ALTER DATABASE " + QualifiedName.quote(database) + " SET " + QualifiedName.quote(name) + " TO " + String.join(", ", literals));
        }
        return sql;
    }

    /**
     * The elements of a stored list value ({@code app, "$user", "My Schema"}): comma-separated, each either bare or
     * double-quoted with {@code ""} for a quote, as the server's SplitGUCList reads it (no case folding).
     */
    static List<String> listElements(String value) {
        List<String> elements = new ArrayList<>();
        int i = 0;
        int n = value.length();
        while (true) {
            while (i < n && Character.isWhitespace(value.charAt(i))) i++;
            if (i >= n) break;
            StringBuilder element = new StringBuilder();
            if (value.charAt(i) == '"') {
                i++;
                while (i < n) {
                    char c = value.charAt(i++);
                    if (c == '"') {
                        if (i < n && value.charAt(i) == '"') {
                            element.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        element.append(c);
                    }
                }
            } else {
                while (i < n && value.charAt(i) != ',' && !Character.isWhitespace(value.charAt(i))) element.append(value.charAt(i++));
            }
            elements.add(element.toString());
            while (i < n && Character.isWhitespace(value.charAt(i))) i++;
            if (i < n && value.charAt(i) == ',') i++;
        }
        return elements;
    }

    private static String currentDatabase(Connection target) throws SQLException {
        try (Statement s = target.createStatement(); ResultSet rs = s.executeQuery("SELECT current_database()")) {
            rs.next();
            return rs.getString(1);
        }
    }
}
