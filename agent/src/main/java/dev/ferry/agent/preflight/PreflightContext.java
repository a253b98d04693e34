package dev.ferry.agent.preflight;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.SourceCatalog;
import dev.ferry.agent.db.SourceTable;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What every check may look at: read-only connections to both servers (each statement runs in a READ ONLY
 * transaction, so no check can create anything), their versions and the tables ferry would migrate.
 */
final class PreflightContext implements AutoCloseable {
    final MigrationConfig config;
    final Connection source;
    final Connection target;
    final int sourceMajor;
    final int targetMajor;
    final List<SourceTable> tables;
    final WalWriteRate walWriteRate;

    PreflightContext(MigrationConfig config) throws SQLException {
        this.config = config;
        this.source = new Database(config.source(), "source").open();
        try {
            source.setReadOnly(true);
            this.walWriteRate = new WalWriteRate(source);
            this.target = new Database(config.target(), "target").open();
        } catch (SQLException | RuntimeException e) {
            source.close();
            throw e;
        }
        target.setReadOnly(true);
        this.sourceMajor = Database.majorVersion(source);
        this.targetMajor = Database.majorVersion(target);
        this.tables = new SourceCatalog().read(source, config.tables());
    }

    /** First column of each row, as text. */
    static List<String> column(Connection connection, String sql, Object... parameters) throws SQLException {
        try (PreparedStatement s = connection.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) s.setObject(i + 1, parameters[i]);
            try (ResultSet rs = s.executeQuery()) {
                List<String> values = new ArrayList<>();
                while (rs.next()) values.add(rs.getString(1));
                return values;
            }
        }
    }

    static Optional<String> value(Connection connection, String sql, Object... parameters) throws SQLException {
        List<String> values = column(connection, sql, parameters);
        return values.isEmpty() ? Optional.empty() : Optional.ofNullable(values.get(0));
    }

    static String setting(Connection connection, String name) throws SQLException {
        return value(connection, "SELECT current_setting(?, true)", name).orElse("");
    }

    static boolean hasExtension(Connection connection, String name) throws SQLException {
        return value(connection, "SELECT 1 FROM pg_extension WHERE extname = ?", name).isPresent();
    }

    static long number(Connection connection, String sql, Object... parameters) throws SQLException {
        return Long.parseLong(value(connection, sql, parameters).orElse("0"));
    }

    @Override
    public void close() throws SQLException {
        try {
            source.close();
        } finally {
            target.close();
        }
    }
}
