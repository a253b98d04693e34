package dev.ferry.agent.apply;

import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Relation;
import dev.ferry.replication.pgoutput.Tuple;
import dev.ferry.replication.pgoutput.TupleValue;
import dev.ferry.replication.pgoutput.Update;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * REPLICA IDENTITY FULL changes applied to a real target, as the stream carries them: the row is found by all its old
 * values, NULLs match NULLs, json and point (no equality operator) match by their text, and of identical rows exactly
 * one is changed. On a partitioned table too, which a relation published through its partition root is (ferry
 * publishes partitions on their own, but a publication made by an older ferry is kept when a migration resumes).
 */
@Timeout(60)
class FullIdentityMatchTest {
    private static final String[] COLUMNS = {"a", "j", "p", "v"};
    private static TestPostgres target;

    @BeforeAll
    static void start() {
        target = TestPostgres.start();
        target.createDatabase("full_match");
        target.execute("full_match",
                "CREATE TABLE plain (a int, j json, p point, v text)",
                "CREATE TABLE parted (a int, j json, p point, v text) PARTITION BY LIST (a)",
                "CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1, 2)",
                "CREATE TABLE parted_3 PARTITION OF parted FOR VALUES IN (3, 4)");
    }

    @AfterAll
    static void stop() {
        if (target != null) target.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain", "parted"})
    void oneRowIsFoundByAllItsOldValues(String table) throws Exception {
        target.execute("full_match", "TRUNCATE " + table,
                "INSERT INTO " + table + " VALUES (1, '{\"k\": [1, 2]}', '(1,2)', 'twin'), (1, '{\"k\": [1, 2]}', '(1,2)', 'twin'),"
                        + " (2, NULL, NULL, NULL), (3, '[]', '(0,0)', 'twin'), (3, '[]', '(0,0)', 'twin')");
        try (Connection c = target.connect("full_match"); Applier applier = new Applier(c, new StateStore(), NumericNanInf.KEEP, false, Lsn.ZERO,
                new MigrationMetrics(), lsn -> {})) {
            c.setAutoCommit(false);
            List<Relation.Column> columns = new ArrayList<>();
            for (String column : COLUMNS) columns.add(new Relation.Column(true, column, 0, -1));
            applier.relation(new Relation(1, "public", table, 'f', columns));

            applier.update(new Update(1, Optional.of(tuple("1", "{\"k\": [1, 2]}", "(1,2)", "twin")), tuple("1", "{\"k\": [1, 2]}", "(1,2)", "one of two")));
            applier.update(new Update(1, Optional.of(tuple("2", null, null, null)), tuple("2", null, null, "was null")));
            applier.delete(new Delete(1, tuple("3", "[]", "(0,0)", "twin")));
            applier.commitPending();
        }
        assertEquals("1 one of two,1 twin,2 was null,3 twin",
                target.queryValue("full_match", "SELECT string_agg(a || ' ' || v, ',' ORDER BY a, v) FROM " + table));
    }

    private static Tuple tuple(String... values) {
        List<TupleValue> out = new ArrayList<>();
        for (String value : values) out.add(value == null ? new TupleValue.Null() : new TupleValue.Text(value));
        return new Tuple(out);
    }
}
