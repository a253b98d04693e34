package dev.ferry.agent.stream;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import dev.ferry.replication.pgoutput.LogicalMessage;
import dev.ferry.replication.pgoutput.Relation;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns what pgoutput shows of a TimescaleDB source into the user's own changes (docs/timescaledb.md):
 * <ul>
 * <li>a change on a chunk ({@code _timescaledb_internal._hyper_1_7_chunk}) is a change of its hypertable: its RELATION
 *     message is renamed to the hypertable, whose target table routes the row into a chunk of its own. A chunk's
 *     hypertable is told by its name: TimescaleDB names chunks {@code <prefix>_<chunk id>_chunk} in the hypertable's
 *     associated schema, so chunks created during the migration are recognised without asking the catalog mid-stream;</li>
 * <li>everything between TimescaleDB's markers {@code ::timescaledb-compression-start}/{@code -end} and
 *     {@code ::timescaledb-decompression-start}/{@code -end} is rows moving between a chunk and its compressed chunk,
 *     not user DML, and is skipped;</li>
 * <li>other relations of TimescaleDB's schemas (compressed chunks, its own bookkeeping tables) carry no user rows and
 *     are ignored.</li>
 * </ul>
 * Owned by the stream thread, like the rest of {@link SourceTransactions}' per-run state.
 */
final class TimescaleChanges {
    static final String COMPRESSION_START = "::timescaledb-compression-start";
    static final String COMPRESSION_END = "::timescaledb-compression-end";
    static final String DECOMPRESSION_START = "::timescaledb-decompression-start";
    static final String DECOMPRESSION_END = "::timescaledb-decompression-end";

    private static final String HYPERTABLES = """
            SELECT h.schema_name, h.table_name, h.associated_schema_name, h.associated_table_prefix,
                   h.compression_state = 2 OR EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg a WHERE a.mat_hypertable_id = h.id)
            FROM _timescaledb_catalog.hypertable h""";

    private record Prefix(String schema, String prefix) {}

    /** Chunk-name prefix -> the hypertable its chunks belong to; internal hypertables map to empty (ignored). */
    private final Map<Prefix, Optional<QualifiedName>> hypertables;
    private final Set<String> internalSchemas;
    /** Relation ids whose changes carry no user rows. */
    private final Set<Integer> ignored = new HashSet<>();
    /** Relation id of a chunk -> its hypertable, and of any other relation -> its own name. */
    private final Map<Integer, QualifiedName> chunkOf = new HashMap<>();
    private final Map<Integer, QualifiedName> plain = new HashMap<>();
    /** Marker pairs open in the current source transaction. */
    private int openMarkers;

    private TimescaleChanges(Map<Prefix, Optional<QualifiedName>> hypertables, Set<String> internalSchemas) {
        this.hypertables = hypertables;
        this.internalSchemas = internalSchemas;
    }

    /** Nothing to route: a source without TimescaleDB. */
    static TimescaleChanges none() {
        return new TimescaleChanges(Map.of(), Set.of());
    }

    /** Reads the source's hypertables, before streaming; hypertables whose rows {@code tables} leaves out are ignored like internal ones. */
    static TimescaleChanges read(Connection source, TableFilter tables) throws SQLException {
        try (Statement s = source.createStatement();
             ResultSet rs = s.executeQuery("SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL")) {
            rs.next();
            if (!rs.getBoolean(1)) return none();
        }
        Map<Prefix, Optional<QualifiedName>> hypertables = new HashMap<>();
        Set<String> schemas = new HashSet<>();
        try (Statement s = source.createStatement(); ResultSet rs = s.executeQuery(HYPERTABLES)) {
            while (rs.next()) {
                QualifiedName name = new QualifiedName(rs.getString(1), rs.getString(2));
                boolean internal = rs.getBoolean(5) || !tables.copiesRows(name);
                hypertables.put(new Prefix(rs.getString(3), rs.getString(4)), internal ? Optional.empty() : Optional.of(name));
                schemas.add(rs.getString(3));
            }
        }
        return new TimescaleChanges(hypertables, schemas);
    }

    private static final Pattern CHUNK = Pattern.compile("(.+)_\\d+_chunk");

    /** A new source transaction: no marker is open. */
    void begin() {
        openMarkers = 0;
    }

    /**
     * The RELATION message to hand to the applier: renamed to its hypertable for a chunk, as it is for any other user
     * table, or none for a relation whose changes are ignored.
     */
    Optional<Relation> relation(Relation relation) {
        ignored.remove(relation.relationId());
        chunkOf.remove(relation.relationId());
        plain.remove(relation.relationId());
        Matcher chunk = CHUNK.matcher(relation.name());
        Optional<QualifiedName> hypertable = chunk.matches()
                ? hypertables.getOrDefault(new Prefix(relation.namespace(), chunk.group(1)), Optional.empty()) : Optional.empty();
        if (hypertable.isPresent()) {
            chunkOf.put(relation.relationId(), hypertable.get());
            return Optional.of(new Relation(relation.relationId(), hypertable.get().schema(), hypertable.get().name(), relation.replicaIdentity(), relation.columns()));
        }
        if (internalSchemas.contains(relation.namespace()) || relation.namespace().startsWith("_timescaledb")) {
            ignored.add(relation.relationId());
            return Optional.empty();
        }
        plain.put(relation.relationId(), new QualifiedName(relation.namespace(), relation.name()));
        return Optional.of(relation);
    }

    /** Keeps track of TimescaleDB's markers; other messages mean nothing here. */
    void message(LogicalMessage message) {
        switch (message.prefix()) {
            case COMPRESSION_START, DECOMPRESSION_START -> openMarkers++;
            case COMPRESSION_END, DECOMPRESSION_END -> openMarkers = Math.max(0, openMarkers - 1);
            default -> { }
        }
    }

    /** Whether a row change (INSERT, UPDATE, DELETE) on this relation is the user's and must be applied. */
    boolean applies(int relationId) {
        return openMarkers == 0 && (ignored.isEmpty() || !ignored.contains(relationId)); // no id boxed without TimescaleDB
    }

    /** Whether a relation's changes carry no user rows (TimescaleDB's own), whatever markers are open. */
    boolean ignores(int relationId) {
        return ignored.contains(relationId);
    }

    /**
     * The relations of a TRUNCATE to apply: ignored ones left out, and a chunk's only together with its hypertable
     * (a TRUNCATE of the hypertable lists its chunks too). A chunk truncated alone cannot be applied to the target's
     * hypertable without emptying all of it, so the stream stops rather than lose rows.
     */
    List<Integer> truncated(List<Integer> relationIds) {
        if (openMarkers > 0) return List.of();
        Set<QualifiedName> tables = new HashSet<>();
        for (int id : relationIds) if (plain.containsKey(id)) tables.add(plain.get(id));
        List<Integer> kept = new ArrayList<>();
        for (int id : relationIds) {
            if (ignored.contains(id)) continue;
            QualifiedName hypertable = chunkOf.get(id);
            if (hypertable == null) {
                kept.add(id);
            } else if (!tables.contains(hypertable)) {
                throw new FerryException("a chunk of hypertable " + hypertable + " was truncated on the source on its own.",
                        "ferry applies a chunk's changes to the target's hypertable, whose chunks are its own; it cannot empty just that chunk's rows there.",
                        "delete those rows on the target by hand (DELETE FROM " + hypertable + " WHERE <the chunk's time range>), then run `ferry run` again;"
                                + " or restart the migration.", ExitCode.FAILED, null);
            }
        }
        return kept;
    }
}
