package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.demo.ComparisonResult;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kind of replica identity (default with a primary key, USING INDEX, FULL, NOTHING or none) on plain tables,
 * partitioned roots and their partitions, through a live migration with inserts, updates (key changes and moves
 * between partitions included), deletes and truncates while streaming, then a row-by-row comparison.
 *
 * <p>The schema is copied with pg_dump (--schema copy). The target may lose REPLICA IDENTITY USING INDEX in that copy
 * (a schema-stage defect of its own); that does not matter here: ferry finds rows by the key columns the source's
 * RELATION message names, and the unique index they need on the target is copied.
 */
@Timeout(300)
class ReplicaIdentityTest extends TwoServers {
    /** Each test's last change is a row in this table: once the target holds it, every change before it is applied. */
    private static final String MARKER_TABLE = "CREATE TABLE public.marker (id int PRIMARY KEY)";

    /** Issue 17, defect 4: the fix ferry's own warning recommends used to stop the stream ("subquery has too few columns"). */
    @Test
    void fullIdentityOnAPartitionedRootAndItsPartitionStreamsUpdatesAndDeletes() throws Exception {
        Live live = start("identity_full_root", List.of(),
                "CREATE TABLE d (id int, v text) PARTITION BY LIST (id)",
                "CREATE TABLE d1 PARTITION OF d FOR VALUES IN (1, 2)",
                "ALTER TABLE d REPLICA IDENTITY FULL",
                "ALTER TABLE d1 REPLICA IDENTITY FULL",
                "INSERT INTO d VALUES (1, 'x'), (2, 'gone')");
        live.change("UPDATE d SET v = 'y' WHERE id = 1", "DELETE FROM d WHERE id = 2", "INSERT INTO d VALUES (2, 'new')");
        live.cutOverAndCompare(Set.of());
        assertEquals("1 y,2 new", target.queryValue(live.db, "SELECT string_agg(id || ' ' || v, ',' ORDER BY id) FROM d"));
        assertFalse(live.migration.log("preflight.log").contains("WARN tuple-identifier"), live.migration.log("preflight.log"));
    }

    /**
     * A root without a primary key whose every partition has one: PostgreSQL identifies rows per partition, so
     * updates and deletes must arrive, and a row moved to another partition must end there once, not twice.
     */
    @Test
    void partitionsWithKeysUnderARootWithoutOneStreamUpdatesDeletesAndMoves() throws Exception {
        Live live = start("identity_bare_root", List.of(),
                "CREATE TABLE bare (id int NOT NULL, v text) PARTITION BY RANGE (id)",
                "CREATE TABLE bare_low PARTITION OF bare (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100)",
                "CREATE TABLE bare_high PARTITION OF bare (PRIMARY KEY (id)) FOR VALUES FROM (100) TO (200)",
                "INSERT INTO bare VALUES (1, 'a'), (2, 'b'), (3, 'c')");
        live.change("UPDATE bare SET v = 'updated' WHERE id = 1",
                "UPDATE bare SET id = 150, v = 'moved' WHERE id = 2",
                "DELETE FROM bare WHERE id = 3");
        live.cutOverAndCompare(Set.of());
        assertEquals("1 updated,150 moved", target.queryValue(live.db, "SELECT string_agg(id || ' ' || v, ',' ORDER BY id) FROM bare"));
        assertFalse(live.migration.log("preflight.log").contains("WARN tuple-identifier"), live.migration.log("preflight.log"));
    }

    @Test
    void everyReplicaIdentityKindOnPlainTablesRootsAndPartitions() throws Exception {
        Live live = start("identity_family", List.of("ALTER DATABASE identity_family SET IntervalStyle = 'iso_8601'",
                        "ALTER DATABASE identity_family SET TimeZone = 'America/New_York'"),
                // plain tables: primary key, unique index, FULL (with types that have no equality operator), NOTHING, none
                "CREATE TABLE plain_pk (id int PRIMARY KEY, v text)",
                "CREATE TABLE plain_index (code text NOT NULL, v text)",
                "CREATE UNIQUE INDEX plain_index_code ON plain_index (code)",
                "ALTER TABLE plain_index REPLICA IDENTITY USING INDEX plain_index_code",
                "CREATE TABLE plain_full (a int, j json, p point, v text)",
                "ALTER TABLE plain_full REPLICA IDENTITY FULL",
                // FULL over types whose text depends on session settings, which differ in each database (below)
                "CREATE TABLE full_settings (b bytea, i interval, t timestamptz, v text)",
                "ALTER TABLE full_settings REPLICA IDENTITY FULL",
                "ALTER DATABASE identity_family SET bytea_output = 'escape'",
                "ALTER DATABASE identity_family SET IntervalStyle = 'sql_standard'",
                "ALTER DATABASE identity_family SET TimeZone = 'Asia/Tokyo'",
                "CREATE TABLE plain_nothing (id int PRIMARY KEY, v text)",
                "ALTER TABLE plain_nothing REPLICA IDENTITY NOTHING",
                "CREATE TABLE plain_none (a int, v text)",
                // a root with a primary key: every partition has it too
                "CREATE TABLE root_pk (id int PRIMARY KEY, v text) PARTITION BY RANGE (id)",
                "CREATE TABLE root_pk_1 PARTITION OF root_pk FOR VALUES FROM (0) TO (100)",
                "CREATE TABLE root_pk_2 PARTITION OF root_pk FOR VALUES FROM (100) TO (200)",
                // a root without any identity whose partitions each have another kind
                "CREATE TABLE mixed (id int NOT NULL, v text) PARTITION BY RANGE (id)",
                "CREATE TABLE mixed_pk PARTITION OF mixed (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100)",
                "CREATE TABLE mixed_index PARTITION OF mixed FOR VALUES FROM (100) TO (200)",
                "CREATE UNIQUE INDEX mixed_index_id ON mixed_index (id)",
                "ALTER TABLE mixed_index REPLICA IDENTITY USING INDEX mixed_index_id",
                "CREATE TABLE mixed_full PARTITION OF mixed FOR VALUES FROM (200) TO (300)",
                "ALTER TABLE mixed_full REPLICA IDENTITY FULL",
                // a FULL root over one FULL partition and one with a primary key
                "CREATE TABLE root_full (id int NOT NULL, v text) PARTITION BY LIST (id)",
                "ALTER TABLE root_full REPLICA IDENTITY FULL",
                "CREATE TABLE root_full_1 PARTITION OF root_full FOR VALUES IN (1, 2)",
                "ALTER TABLE root_full_1 REPLICA IDENTITY FULL",
                "CREATE TABLE root_full_2 PARTITION OF root_full (PRIMARY KEY (id)) FOR VALUES IN (3, 4)",
                // two levels under a root without identity
                "CREATE TABLE tree (id int NOT NULL, k text NOT NULL, v text) PARTITION BY RANGE (id)",
                "CREATE TABLE tree_low PARTITION OF tree FOR VALUES FROM (0) TO (100) PARTITION BY LIST (k)",
                "CREATE TABLE tree_low_a PARTITION OF tree_low (PRIMARY KEY (id, k)) FOR VALUES IN ('a')",
                "CREATE TABLE tree_low_b PARTITION OF tree_low FOR VALUES IN ('b')",
                "ALTER TABLE tree_low_b REPLICA IDENTITY FULL",
                "CREATE TABLE tree_high PARTITION OF tree (PRIMARY KEY (id)) FOR VALUES FROM (100) TO (200)",
                // one partition cannot be identified: only its inserts follow, its sibling streams everything
                "CREATE TABLE gap (id int NOT NULL, v text) PARTITION BY RANGE (id)",
                "CREATE TABLE gap_keyed PARTITION OF gap (PRIMARY KEY (id)) FOR VALUES FROM (0) TO (100)",
                "CREATE TABLE gap_bare PARTITION OF gap FOR VALUES FROM (100) TO (200)",

                "INSERT INTO plain_pk SELECT g, 'v' || g FROM generate_series(1, 10) g",
                "INSERT INTO plain_index SELECT 'c' || g, 'v' || g FROM generate_series(1, 10) g",
                "INSERT INTO plain_full VALUES (1, '{\"a\": 1}', '(1,2)', 'dup'), (1, '{\"a\": 1}', '(1,2)', 'dup'), (2, NULL, NULL, NULL),"
                        + " (3, '{\"b\": [1, 2]}', '(0,0)', 'x'), (4, '[]', '(4,4)', 'twin'), (4, '[]', '(4,4)', 'twin')",
                "INSERT INTO full_settings VALUES ('\\x0001ff', '1 day -02:00:00', '2024-01-01 12:00+00', 'a'), ('\\x00', '-1 year 2 mons', '2024-06-01 00:00+02', 'b')",
                "INSERT INTO plain_nothing VALUES (1, 'before')",
                "INSERT INTO plain_none VALUES (1, 'before')",
                "INSERT INTO root_pk SELECT g, 'v' || g FROM generate_series(1, 199, 9) g",
                "INSERT INTO mixed SELECT g, 'v' || g FROM generate_series(1, 299, 7) g",
                "INSERT INTO root_full VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')",
                "INSERT INTO tree VALUES (1, 'a', 'low a'), (2, 'b', 'low b'), (3, 'b', 'low b 3'), (101, 'a', 'high'), (102, 'b', 'high b')",
                "INSERT INTO gap VALUES (1, 'keyed'), (101, 'bare')");

        target.execute(live.db, "CREATE TABLE root_pk_3 PARTITION OF root_pk FOR VALUES FROM (200) TO (300)");
        live.change(
                "INSERT INTO plain_pk VALUES (11, 'new')",
                "UPDATE plain_pk SET v = 'changed' WHERE id = 1",
                "UPDATE plain_pk SET id = 1001 WHERE id = 2",
                "DELETE FROM plain_pk WHERE id = 3",

                "INSERT INTO plain_index VALUES ('c11', 'new')",
                "UPDATE plain_index SET v = 'changed' WHERE code = 'c1'",
                "UPDATE plain_index SET code = 'renamed' WHERE code = 'c2'",
                "DELETE FROM plain_index WHERE code = 'c3'",

                // one of two identical rows is updated, the other stays; NULLs match NULLs; json and point have no '='
                "UPDATE plain_full SET v = 'one of two' WHERE ctid = (SELECT ctid FROM plain_full WHERE v = 'dup' LIMIT 1)",
                "UPDATE plain_full SET v = 'was null' WHERE a = 2",
                "UPDATE plain_full SET j = '{\"b\": [1, 2, 3]}', p = '(9,9)' WHERE a = 3",
                "DELETE FROM plain_full WHERE ctid = (SELECT ctid FROM plain_full WHERE v = 'twin' LIMIT 1)",
                "INSERT INTO plain_full VALUES (5, NULL, '(5,5)', NULL), (5, NULL, '(5,5)', NULL)",
                "DELETE FROM plain_full WHERE ctid = (SELECT ctid FROM plain_full WHERE a = 5 LIMIT 1)",

                "UPDATE full_settings SET v = 'changed' WHERE v = 'a'",
                "DELETE FROM full_settings WHERE v = 'b'",

                // insert-only tables: the application's updates keep working on the source, and do not reach the target
                "INSERT INTO plain_nothing VALUES (2, 'inserted')",
                "UPDATE plain_nothing SET v = 'updated on the source' WHERE id = 1",
                "INSERT INTO plain_none VALUES (2, 'inserted')",
                "UPDATE plain_none SET v = 'updated on the source' WHERE a = 1",

                // a partition made during the migration (on both sides: DDL is not replicated) is followed
                "CREATE TABLE root_pk_3 PARTITION OF root_pk FOR VALUES FROM (200) TO (300)",
                "INSERT INTO root_pk VALUES (250, 'in a new partition')",
                "UPDATE root_pk SET id = 251 WHERE id = 250",
                "INSERT INTO root_pk VALUES (50, 'new')",
                "UPDATE root_pk SET v = 'changed' WHERE id = 10",
                "UPDATE root_pk SET id = 150, v = 'moved up' WHERE id = 19",
                "UPDATE root_pk SET id = 60, v = 'moved down' WHERE id = 100",
                "DELETE FROM root_pk WHERE id = 28",
                "TRUNCATE root_pk_2",      // one partition only
                "INSERT INTO root_pk VALUES (199, 'after truncate')",

                "UPDATE mixed SET v = 'changed' WHERE id IN (8, 106, 204)",
                "UPDATE mixed SET id = 121, v = 'pk to index' WHERE id = 15",
                "UPDATE mixed SET id = 250, v = 'index to full' WHERE id = 113",
                "UPDATE mixed SET id = 90, v = 'full to pk' WHERE id = 211",
                "DELETE FROM mixed WHERE id IN (22, 127, 218)",
                "INSERT INTO mixed VALUES (299, 'new full'), (299, 'new full')",

                "UPDATE root_full SET v = 'changed' WHERE id IN (1, 3)",
                "DELETE FROM root_full WHERE id = 4",
                "UPDATE root_full SET id = 4, v = 'full to pk' WHERE id = 2",
                "UPDATE root_full SET id = 2, v = 'pk to full' WHERE id = 3",

                "UPDATE tree SET v = 'changed' WHERE id IN (1, 2, 101)",
                "UPDATE tree SET k = 'a', v = 'b to a' WHERE id = 3",
                "UPDATE tree SET id = 150, v = 'low to high' WHERE id = 1",
                "UPDATE tree SET id = 50, v = 'high to low b' WHERE id = 102",
                "DELETE FROM tree WHERE id = 2",
                "TRUNCATE tree_high",
                "INSERT INTO tree VALUES (199, 'a', 'after truncate')",

                "UPDATE gap SET v = 'changed keyed' WHERE id = 1",
                "INSERT INTO gap VALUES (2, 'keyed 2'), (102, 'bare 2')",
                "UPDATE gap SET v = 'changed bare' WHERE id = 101");

        Set<String> insertOnly = Set.of("\"public\".\"plain_nothing\"", "\"public\".\"plain_none\"", "\"public\".\"gap_bare\"");
        live.cutOverAndCompare(insertOnly);

        assertEquals("1 before,2 inserted", target.queryValue(live.db, "SELECT string_agg(id || ' ' || v, ',' ORDER BY id) FROM plain_nothing"));
        assertEquals("1 before,2 inserted", target.queryValue(live.db, "SELECT string_agg(a || ' ' || v, ',' ORDER BY a) FROM plain_none"));
        assertEquals("101 bare,102 bare 2", target.queryValue(live.db, "SELECT string_agg(id || ' ' || v, ',' ORDER BY id) FROM gap_bare"));

        String preflight = live.migration.log("preflight.log");
        assertTrue(preflight.contains("WARN tuple-identifier: no tuple identifier for UPDATE/DELETE in 3 tables"), preflight);
        for (String unidentified : List.of("\"public\".\"plain_nothing\"", "\"public\".\"plain_none\"", "\"public\".\"gap\" (partitions \"public\".\"gap_bare\")")) {
            assertTrue(preflight.contains(unidentified), unidentified + " in " + preflight);
        }
        for (String identified : List.of("\"public\".\"mixed\"", "\"public\".\"root_full\"", "\"public\".\"tree\"", "\"public\".\"plain_full\"")) {
            assertFalse(preflight.contains(identified), identified + " warned in " + preflight);
        }
        assertTrue(live.migration.log("stream.log").contains("no tuple identifier for UPDATE/DELETE in table \"public\".\"plain_none\""));
    }

    /** A migration streaming from a source prepared by {@code sql} (plus the marker table) to a target given {@code targetSql} first. */
    private Live start(String db, List<String> targetSql, String... sql) {
        MigrationFixture migration = new MigrationFixture(source, target, db);
        target.execute(db, targetSql.toArray(new String[0]));
        source.execute(db, sql);
        source.execute(db, MARKER_TABLE);
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        agent.awaitStreaming(Duration.ofMinutes(2));
        return new Live(db, migration, agent);
    }

    private record Live(String db, MigrationFixture migration, MigrationFixture.InProcessAgent agent) {
        /** Runs each statement in its own source transaction, then waits until the target has them all. */
        void change(String... sql) {
            source.execute(db, sql);
            source.execute(db, "INSERT INTO public.marker VALUES (1)");
            Deadline.await("the changes to reach the target", Duration.ofMinutes(1), () -> {
                agent.failIfDead();
                return "1".equals(target.queryValue(db, "SELECT count(*) FROM public.marker"));
            });
        }

        /** Cuts over, then compares every table row by row; only {@code insertOnly} tables may differ. */
        void cutOverAndCompare(Set<String> insertOnly) throws Exception {
            String summary = migration.cutover(Duration.ofSeconds(60));
            assertTrue(summary.contains("migration finished"), summary);
            agent.awaitSummary(Duration.ofSeconds(30));
            ComparisonResult result = migration.compare();
            List<String> unexpected = result.differences().stream()
                    .filter(d -> insertOnly.stream().noneMatch(table -> d.startsWith("table " + table + ":"))).toList();
            assertTrue(unexpected.isEmpty(), result.toString());
        }
    }
}
