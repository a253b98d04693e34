package dev.ferry.agent.snapshot;

import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Brings the target's large objects ({@code pg_largeobject}) to the source's: logical decoding never carries them, so
 * they are compared and copied outright, once after the table copy (so the cutover has little left to do) and again
 * at the cutover, when the source is no longer written. Each is compared a megabyte at a time with
 * {@code lo_get}, never loaded whole; one that differs is written again from scratch in one target transaction, with
 * the same OID (tables refer to large objects by it), its owner where that role exists on the target, and its comment.
 * A large object on the target that the source no longer has is removed. Called from one thread.
 */
public final class LargeObjects {
    private static final int CHUNK = 1 << 20;

    private final Logger log;

    /** @param log the stage's logger: snapshot after the copy, cutover at the cutover */
    public LargeObjects(Logger log) {
        this.log = log;
    }

    /** What one pass did. */
    public record Result(int compared, int written, int removed, long bytesWritten) {}

    public Result sync(Connection source, Connection target) throws SQLException {
        Map<Long, Metadata> onSource = metadata(source);
        Map<Long, Metadata> onTarget = metadata(target);
        if (onSource.isEmpty() && onTarget.isEmpty()) return new Result(0, 0, 0, 0);
        Set<String> targetRoles = roles(target);
        int written = 0;
        long bytes = 0;
        for (Map.Entry<Long, Metadata> object : onSource.entrySet()) {
            long oid = object.getKey();
            Metadata wanted = object.getValue().as(targetRoles);
            if (onTarget.containsKey(oid) && sameData(source, target, oid)) {
                if (!wanted.equals(onTarget.get(oid))) inTransaction(target, () -> describe(target, oid, wanted));
                continue;
            }
            bytes += write(source, target, oid, onTarget.containsKey(oid), wanted);
            written++;
        }
        for (Map.Entry<Long, Metadata> object : onSource.entrySet()) {
            Optional<String> owner = object.getValue().owner();
            if (owner.isPresent() && !targetRoles.contains(owner.get())) {
                log.warn("large object {}: its owner {} does not exist on the target, where ferry's user owns it", object.getKey(), owner.get());
            }
        }
        int removed = 0;
        for (long oid : onTarget.keySet()) {
            if (onSource.containsKey(oid)) continue;
            try (PreparedStatement s = target.prepareStatement("SELECT lo_unlink(?::oid)")) {
                s.setLong(1, oid);
                s.execute();
            }
            removed++;
        }
        Result result = new Result(onSource.size(), written, removed, bytes);
        log.info("large objects: {} on the source, {} written to the target ({} bytes), {} removed from it", result.compared(), result.written(),
                result.bytesWritten(), result.removed());
        return result;
    }

    private record Metadata(Optional<String> owner, Optional<String> comment) {
        /** What the target can have: the owner only where that role exists there. */
        Metadata as(Set<String> targetRoles) {
            return owner.isPresent() && !targetRoles.contains(owner.get()) ? new Metadata(Optional.empty(), comment) : this;
        }
    }

    private static Map<Long, Metadata> metadata(Connection connection) throws SQLException {
        Map<Long, Metadata> objects = new LinkedHashMap<>();
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT m.oid::bigint, r.rolname, obj_description(m.oid, 'pg_largeobject')"
                     + " FROM pg_largeobject_metadata m LEFT JOIN pg_roles r ON r.oid = m.lomowner ORDER BY 1")) {
            while (rs.next()) objects.put(rs.getLong(1), new Metadata(Optional.ofNullable(rs.getString(2)), Optional.ofNullable(rs.getString(3))));
        }
        return objects;
    }

    private static Set<String> roles(Connection target) throws SQLException {
        Set<String> roles = new TreeSet<>();
        try (Statement s = target.createStatement(); ResultSet rs = s.executeQuery("SELECT rolname FROM pg_roles")) {
            while (rs.next()) roles.add(rs.getString(1));
        }
        return roles;
    }

    /** Compares the data chunk by chunk; stops at the first difference. */
    private static boolean sameData(Connection source, Connection target, long oid) throws SQLException {
        for (long offset = 0; ; offset += CHUNK) {
            byte[] a = chunk(source, oid, offset);
            byte[] b = chunk(target, oid, offset);
            if (!Arrays.equals(a, b)) return false;
            if (a.length < CHUNK) return true;
        }
    }

    private static byte[] chunk(Connection connection, long oid, long offset) throws SQLException {
        try (PreparedStatement s = connection.prepareStatement("SELECT lo_get(?::oid, ?, ?)")) {
            s.setLong(1, oid);
            s.setLong(2, offset);
            s.setInt(3, CHUNK);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getBytes(1);
            }
        }
    }

    /** Writes one large object again, whole, with its owner and comment, in one target transaction. Returns its size. */
    private long write(Connection source, Connection target, long oid, boolean exists, Metadata metadata) throws SQLException {
        long[] size = {0};
        inTransaction(target, () -> {
            if (exists) execute(target, "SELECT lo_unlink(?::oid)", oid);
            execute(target, "SELECT lo_create(?::oid)", oid);
            while (true) {
                byte[] data = chunk(source, oid, size[0]);
                if (data.length > 0) {
                    try (PreparedStatement s = target.prepareStatement("SELECT lo_put(?::oid, ?, ?)")) {
                        s.setLong(1, oid);
                        s.setLong(2, size[0]);
                        s.setBytes(3, data);
                        s.execute();
                    }
                }
                size[0] += data.length;
                if (data.length < CHUNK) break;
            }
            describe(target, oid, metadata);
        });
        return size[0];
    }

    /**
     * Comment, then owner (when the role exists on the target; otherwise ferry's user keeps it). Each under a savepoint:
     * a target user that is not a superuser may be refused either, which costs a WARN, not the cutover.
     */
    private void describe(Connection target, long oid, Metadata metadata) throws SQLException {
        attempt(target, oid, "COMMENT ON LARGE OBJECT " + oid + " IS " + metadata.comment().map(QualifiedName::literal).orElse("NULL"));
        if (metadata.owner().isPresent()) attempt(target, oid, "ALTER LARGE OBJECT " + oid + " OWNER TO " + QualifiedName.quote(metadata.owner().get()));
    }

    private void attempt(Connection target, long oid, String sql) throws SQLException {
        try (Statement s = target.createStatement()) {
            s.execute("SAVEPOINT ferry_large_object");
            try {
                s.execute(sql);
            } catch (SQLException e) {
                s.execute("ROLLBACK TO SAVEPOINT ferry_large_object");
                log.warn("large object {}: {} was refused ({}); run it on the target as a superuser", oid, sql, e.getMessage());
            }
            s.execute("RELEASE SAVEPOINT ferry_large_object");
        }
    }

    private interface SqlWork {
        void run() throws SQLException;
    }

    private static void inTransaction(Connection target, SqlWork work) throws SQLException {
        boolean autoCommit = target.getAutoCommit();
        target.setAutoCommit(false);
        try {
            work.run();
            target.commit();
        } catch (SQLException | RuntimeException e) {
            target.rollback();
            throw e;
        } finally {
            target.setAutoCommit(autoCommit);
        }
    }

    private static void execute(Connection connection, String sql, long oid) throws SQLException {
        try (PreparedStatement s = connection.prepareStatement(sql)) {
            s.setLong(1, oid);
            s.execute();
        }
    }
}
