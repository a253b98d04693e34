package dev.ferry.agent.apply;

import dev.ferry.agent.config.MigrationConfig.NumericNanInf;
import dev.ferry.agent.metrics.MigrationMetrics;
import dev.ferry.agent.state.StateStore;
import dev.ferry.replication.Lsn;
import dev.ferry.replication.pgoutput.Delete;
import dev.ferry.replication.pgoutput.Insert;
import dev.ferry.replication.pgoutput.Relation;
import dev.ferry.replication.pgoutput.Tuple;
import dev.ferry.replication.pgoutput.TupleValue;
import dev.ferry.replication.pgoutput.Update;
import dev.ferry.testing.Deadline;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The apply stage against a real target: when the target commits (commit policy) and which LSN it then reports as
 * applied, coalescing of changes to one row, and the COPY route for many inserted rows with its fallback to upserts
 * when a key is on the target already. Source transactions are handed in as the stream hands them.
 */
@Timeout(120)
class ApplierTest {
    private static final Lsn START = Lsn.parse("0/1000000");
    private static TestPostgres target;
    private static int databases;

    @BeforeAll
    static void start() {
        target = TestPostgres.start();
    }

    @AfterAll
    static void stop() {
        if (target != null) target.close();
    }

    @Test
    void commitsAtASourceCommitOnceItHoldsTwentyThousandChangesAndReportsItsEndLsn() throws Exception {
        String db = database("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
        List<Lsn> confirmed = new ArrayList<>();
        try (Connection c = target.connect(db); Applier applier = applier(c, confirmed)) {
            applier.relation(relation(1, "t", true, "id", "v"));
            Lsn end = Lsn.parse("0/2000000");
            for (int id = 1; id <= TargetTransaction.COMMIT_CHANGES; id++) {
                applier.insert(new Insert(1, tuple(Integer.toString(id), "v")));
                // Inside a source transaction the stream never asks; it is uncommitted work all the same.
                assertTrue(applier.hasUncommittedWork());
            }
            assertEquals("0", count(db, "public.t"), "nothing is visible before the target commits");
            applier.endSourceTransaction(end);
            applier.commitIfDue();

            assertEquals(List.of(end), confirmed, "the committed source transaction's end LSN is confirmed");
            assertEquals(end, applier.applied());
            assertEquals(end, appliedInState(db), "recorded in the same target transaction as the rows");
            assertEquals(Long.toString(TargetTransaction.COMMIT_CHANGES), count(db, "public.t"));
            assertEquals(1, applier.targetCommits());
        }
    }

    @Test
    void commitPolicyCountsChangesAndAge() {
        TargetTransaction transaction = new TargetTransaction(START);
        assertFalse(transaction.due(), "nothing open");
        for (long i = 1; i < TargetTransaction.COMMIT_CHANGES; i++) transaction.changed();
        transaction.sourceTransactionEnded(Lsn.parse("0/1000100"));
        assertFalse(transaction.due(), "one change short, and just opened");
        transaction.changed();
        assertTrue(transaction.due());
        transaction.committed();
        assertEquals(Lsn.parse("0/1000100"), transaction.applied());
        assertFalse(transaction.hasWork());
        assertFalse(transaction.caughtUpTo(Lsn.parse("0/1000000")), "an idle position behind the applied one is no news");
        assertTrue(transaction.caughtUpTo(Lsn.parse("0/1000200")));
        transaction.changed();
        assertFalse(transaction.caughtUpTo(Lsn.parse("0/1000300")), "not while changes await a commit");
    }

    @Test
    void commitsASmallSourceTransactionOnceTheTargetTransactionIsHalfASecondOld() throws Exception {
        String db = database("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
        List<Lsn> confirmed = new ArrayList<>();
        try (Connection c = target.connect(db); Applier applier = applier(c, confirmed)) {
            applier.relation(relation(1, "t", true, "id", "v"));
            long opened = System.nanoTime();
            applier.insert(new Insert(1, tuple("1", "a")));
            Lsn end = Lsn.parse("0/2000000");
            applier.endSourceTransaction(end);
            applier.commitIfDue();
            assertEquals(List.of(), confirmed, "one change, just opened: not due yet");

            Deadline.await("the target transaction to be due", Duration.ofSeconds(10), () -> {
                applier.commitIfDue();
                return !confirmed.isEmpty();
            });
            assertTrue(System.nanoTime() - opened >= TargetTransaction.COMMIT_NANOS);
            assertEquals(List.of(end), confirmed);
            assertEquals(end, appliedInState(db));
            assertEquals("1", count(db, "public.t"));

            // Idle with nothing open: the position the server reached is applied too, and confirmed.
            Lsn idle = Lsn.parse("0/2000100");
            applier.caughtUpTo(idle);
            assertEquals(List.of(end, idle), confirmed);
            assertEquals(idle, applier.applied());
        }
    }

    @Test
    void changesToOneRowInABatchAreCoalescedWhereTheKeyIsTheOnlyUniqueConstraint() throws Exception {
        String db = database("CREATE TABLE public.counter (id int PRIMARY KEY, n int)",
                "CREATE TABLE public.account (id int PRIMARY KEY, n int, email text UNIQUE)");
        try (Connection c = target.connect(db); Applier applier = applier(c, new ArrayList<>())) {
            applier.relation(relation(1, "counter", true, "id", "n"));
            applier.relation(relation(2, "account", true, "id", "n"));
            applier.insert(new Insert(1, tuple("1", "0")));
            applier.insert(new Insert(2, tuple("1", "0")));
            for (int n = 1; n <= 3; n++) {
                applier.update(new Update(1, Optional.empty(), tuple("1", Integer.toString(n))));
                applier.update(new Update(2, Optional.empty(), tuple("1", Integer.toString(n))));
            }
            applier.endSourceTransaction(Lsn.parse("0/2000000"));
            applier.commitPending();

            assertEquals(3, applier.coalesced(), "counter's insert and two updates replaced; account (another unique constraint) not at all");
            assertEquals("3", target.queryValue(db, "SELECT n FROM public.counter WHERE id = 1"));
            assertEquals("3", target.queryValue(db, "SELECT n FROM public.account WHERE id = 1"));
            assertEquals(8, applier.changesApplied());
        }
    }

    @Test
    void manyInsertedRowsGoByCopy() throws Exception {
        String db = database("CREATE TABLE public.keyed (id int PRIMARY KEY, v text)", "CREATE TABLE public.log (id int, v text)");
        try (Connection c = target.connect(db); Applier applier = applier(c, new ArrayList<>())) {
            applier.relation(relation(1, "keyed", true, "id", "v"));
            applier.relation(relation(2, "log", false, "id", "v"));
            for (int id = 1; id <= TargetWriter.COPY_MIN_ROWS; id++) {
                applier.insert(new Insert(1, tuple(Integer.toString(id), "tab\there")));
                applier.insert(new Insert(2, tuple(Integer.toString(id), null)));
            }
            applier.endSourceTransaction(Lsn.parse("0/2000000"));
            applier.commitPending();

            assertEquals(2L * TargetWriter.COPY_MIN_ROWS, applier.copied());
            assertEquals(TargetWriter.COPY_MIN_ROWS + " tab\there", target.queryValue(db, "SELECT count(*) || ' ' || min(v) FROM public.keyed"));
            assertEquals(TargetWriter.COPY_MIN_ROWS + " 0", target.queryValue(db, "SELECT count(*) || ' ' || count(v) FROM public.log"));
        }
    }

    @Test
    void insertedRowsWhoseKeyIsOnTheTargetAlreadyAreUpsertedInsteadOfCopied() throws Exception {
        String db = database("CREATE TABLE public.keyed (id int PRIMARY KEY, v text)", "INSERT INTO public.keyed VALUES (150, 'written by hand')");
        try (Connection c = target.connect(db); Applier applier = applier(c, new ArrayList<>())) {
            applier.relation(relation(1, "keyed", true, "id", "v"));
            for (int id = 1; id <= TargetWriter.COPY_MIN_ROWS; id++) applier.insert(new Insert(1, tuple(Integer.toString(id), "source")));
            applier.endSourceTransaction(Lsn.parse("0/2000000"));
            applier.commitPending();

            assertEquals(0, applier.copied(), "nothing of the failed COPY stays");
            assertEquals(TargetWriter.COPY_MIN_ROWS + " source source",
                    target.queryValue(db, "SELECT count(*) || ' ' || min(v) || ' ' || max(v) FROM public.keyed"), "the source's row replaces the hand-written one");
            assertEquals(Lsn.parse("0/2000000"), appliedInState(db));
        }
    }

    @Test
    void rowsOfATwoColumnKeyAreToldApartAndCoalescedPerKey() throws Exception {
        String db = database("CREATE TABLE public.pair (a text, b text, n int, PRIMARY KEY (a, b))");
        // Keys whose values run together when joined without a separator, or differ only in a control character.
        String[][] keys = {{"1", "23"}, {"12", "3"}, {"x\u0001", "y"}, {"x", "\u0001y"}, {"", "z"}, {"z", ""}};
        try (Connection c = target.connect(db); Applier applier = applier(c, new ArrayList<>())) {
            applier.relation(relation(1, "pair", List.of("a", "b"), "a", "b", "n"));
            for (String[] key : keys) applier.insert(new Insert(1, tuple(key[0], key[1], "0")));
            for (int n = 1; n <= 2; n++) {
                for (String[] key : keys) applier.update(new Update(1, Optional.empty(), tuple(key[0], key[1], Integer.toString(n))));
            }
            applier.delete(new Delete(1, tuple("12", "3", null)));
            applier.endSourceTransaction(Lsn.parse("0/2000000"));
            applier.commitPending();

            assertEquals(2L * keys.length, applier.coalesced(), "each key's insert and first update replaced by its last update, no other key's");
            assertEquals("5 10", target.queryValue(db, "SELECT count(*) || ' ' || sum(n) FROM public.pair"));
            assertEquals("0", target.queryValue(db, "SELECT count(*) FROM public.pair WHERE a = '12' AND b = '3'"), "deleted by its key");
            assertEquals("2", target.queryValue(db, "SELECT n FROM public.pair WHERE a = E'x\\001' AND b = 'y'"));
        }
    }

    @Test
    void anUpdateLeavingAToastedValueUnchangedKeepsItAndFindsItsKeyAfterIt() throws Exception {
        // The key comes after the TOASTed column, so the key's place among the carried values moves with the shape.
        String db = database("CREATE TABLE public.doc (body text, id int PRIMARY KEY, n int)",
                "CREATE TABLE public.doc_keyed_twice (body text, id int PRIMARY KEY, n int, tag text UNIQUE)");
        try (Connection c = target.connect(db); Applier applier = applier(c, new ArrayList<>())) {
            applier.relation(relation(1, "doc", List.of("id"), "body", "id", "n"));
            applier.relation(relation(2, "doc_keyed_twice", List.of("id"), "body", "id", "n", "tag"));
            for (int id = 1; id <= 3; id++) {
                applier.insert(new Insert(1, tuple("body " + id, Integer.toString(id), "0")));
                applier.insert(new Insert(2, tuple("body " + id, Integer.toString(id), "0", "tag " + id)));
            }
            for (int n = 1; n <= 3; n++) {
                for (int id = 1; id <= 3; id++) {
                    applier.update(new Update(1, Optional.empty(), unchangedBody(Integer.toString(id), Integer.toString(n))));
                    applier.update(new Update(2, Optional.empty(), unchangedBody(Integer.toString(id), Integer.toString(n), "tag " + id)));
                }
            }
            // Row 2 gets a new body, then is updated again without it: the later change keeps the new body.
            applier.update(new Update(1, Optional.empty(), tuple("new body", "2", "4")));
            applier.update(new Update(1, Optional.empty(), unchangedBody("2", "5")));
            // A key change, whose old key comes with it: the row moves to its new key.
            applier.update(new Update(1, Optional.of(tuple(null, "3", null)), tuple("moved", "30", "6")));
            applier.endSourceTransaction(Lsn.parse("0/2000000"));
            applier.commitPending();

            assertEquals("1 body 1 3|2 new body 5|30 moved 6", target.queryValue(db,
                    "SELECT string_agg(id || ' ' || coalesce(body, 'NULL') || ' ' || n, '|' ORDER BY id) FROM public.doc"));
            assertEquals("1 body 1 3 tag 1|2 body 2 3 tag 2|3 body 3 3 tag 3", target.queryValue(db,
                    "SELECT string_agg(id || ' ' || body || ' ' || n || ' ' || tag, '|' ORDER BY id) FROM public.doc_keyed_twice"));
        }
    }

    private static Applier applier(Connection c, List<Lsn> confirmed) throws Exception {
        c.setAutoCommit(false);
        return new Applier(c, new StateStore(), NumericNanInf.KEEP, false, START, new MigrationMetrics(), confirmed::add);
    }

    /** A database of its own with ferry's state (applied at {@link #START}) and the given tables. */
    private static String database(String... sql) throws Exception {
        String db = target.createDatabase("apply_" + ++databases);
        target.execute(db, sql);
        try (Connection c = target.connect(db)) {
            StateStore state = new StateStore();
            state.install(c);
            state.begin(c, "ferry_test", "postgres://source", START);
        }
        return db;
    }

    private static Lsn appliedInState(String db) throws Exception {
        try (Connection c = target.connect(db)) {
            return new StateStore().load(c).orElseThrow().appliedLsn();
        }
    }

    private static String count(String db, String table) {
        return target.queryValue(db, "SELECT count(*) FROM " + table);
    }

    private static Relation relation(int id, String table, boolean keyed, String... columns) {
        List<Relation.Column> described = new ArrayList<>();
        for (int i = 0; i < columns.length; i++) described.add(new Relation.Column(keyed && i == 0, columns[i], 0, -1));
        return new Relation(id, "public", table, keyed ? 'd' : 'n', described);
    }

    private static Relation relation(int id, String table, List<String> key, String... columns) {
        List<Relation.Column> described = new ArrayList<>();
        for (String column : columns) described.add(new Relation.Column(key.contains(column), column, 0, -1));
        return new Relation(id, "public", table, 'd', described);
    }

    /** A row whose first column, a TOASTed value the change left alone, the stream does not carry. */
    private static Tuple unchangedBody(String... rest) {
        List<TupleValue> out = new ArrayList<>(tuple(rest).values());
        out.add(0, TupleValue.UNCHANGED_TOAST);
        return new Tuple(out);
    }

    private static Tuple tuple(String... values) {
        List<TupleValue> out = new ArrayList<>();
        for (String value : values) out.add(value == null ? new TupleValue.Null() : new TupleValue.Text(value));
        return new Tuple(out);
    }
}
