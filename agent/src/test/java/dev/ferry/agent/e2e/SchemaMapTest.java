package dev.ferry.agent.e2e;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.config.SchemaMap;
import dev.ferry.agent.cutover.CutoverRequest;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.logging.LogSetup;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import dev.ferry.agent.testing.FerryCommand;
import dev.ferry.agent.verify.Verification;
import dev.ferry.agent.verify.VerifyReport;
import dev.ferry.testing.Deadline;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --schema-map with --migration: two source databases with the same table names merged live into one target
 * database as schemas app1 and app2 by two agents at once, each cut over on its own.
 */
@Timeout(300)
class SchemaMapTest extends TwoServers {
    private static final String[] SHOP = {
            "CREATE EXTENSION citext",
            "CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL, email citext)",
            "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), amount numeric(10,2) NOT NULL, note text)",
            "CREATE SEQUENCE invoice_no START 1000",
            "CREATE VIEW big_orders AS SELECT o.id, c.name, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.amount > 50",
            "CREATE FUNCTION order_total(cid bigint) RETURNS numeric LANGUAGE sql STABLE BEGIN ATOMIC SELECT coalesce(sum(amount), 0) FROM orders WHERE customer_id = cid; END",
            "CREATE FUNCTION default_note() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := coalesce(NEW.note, 'none'); RETURN NEW; END$$",
            "CREATE TRIGGER orders_note BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION default_note()"};

    @Test
    void twoSourcesMergeLiveIntoOneTargetAsSeparateSchemasAndCutOverIndependently() throws Exception {
        MigrationFixture a = new MigrationFixture(source, target, "shop_a");
        MigrationFixture b = new MigrationFixture(source, target, "shop_b");
        target.createDatabase("merged");
        for (MigrationFixture shop : List.of(a, b)) {
            source.execute(shop.database, SHOP);
            String tag = shop.database;
            source.execute(shop.database,
                    "INSERT INTO customers (name, email) SELECT '" + tag + "-' || g, 'User' || g || '@Example.com' FROM generate_series(1, 40) g",
                    "INSERT INTO orders (customer_id, amount) SELECT 1 + g % 40, g * 1.5 FROM generate_series(1, 200) g",
                    "SELECT nextval('invoice_no') FROM generate_series(1, " + (tag.endsWith("a") ? 3 : 7) + ")",
                    "CREATE MATERIALIZED VIEW customer_totals AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY 1");
        }
        Database merged = new Database(ConnectionSpec.parse("target", target.uri("merged")), "target");
        LogSetup.toDirectory(a.logDir, System.out, false);
        MigrationFixture.InProcessAgent agentA = a.new InProcessAgent(config(a, "app1"));
        MigrationFixture.InProcessAgent agentB = b.new InProcessAgent(config(b, "app2"));
        awaitStreaming(merged, "app1", agentA);
        awaitStreaming(merged, "app2", agentB);

        for (MigrationFixture shop : List.of(a, b)) {
            source.execute(shop.database,
                    "INSERT INTO customers (name) VALUES ('late-" + shop.database + "')",
                    "INSERT INTO orders (customer_id, amount) SELECT 41, 99.5 FROM generate_series(1, 5)",
                    "UPDATE orders SET amount = amount + 1, note = 'updated' WHERE id % 10 = 0",
                    "DELETE FROM orders WHERE id % 17 = 0",
                    "SELECT nextval('invoice_no')");
        }
        String summaryA = new CutoverRequest(a.source, merged, new StateStore("ferry_app1")).run(Duration.ofMinutes(2), new PrintWriter(new StringWriter()));
        assertTrue(summaryA.contains("row counts equal on 2"), summaryA);
        assertEquals(summaryA, agentA.awaitSummary(Duration.ofMinutes(1)));

        // The first cutover dropped its own slot, and left the second migration streaming with its slot.
        assertEquals("0", source.queryValue("postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ferry_shop_a'"));
        assertEquals("1", source.queryValue("postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ferry_shop_b'"));
        agentB.failIfDead();
        source.execute("shop_b", "INSERT INTO customers (name) VALUES ('after-a-cutover')");
        Deadline.await("app2 to apply a row written after app1's cutover", Duration.ofMinutes(1), () -> {
            agentB.failIfDead();
            return "1".equals(target.queryValue("merged", "SELECT count(*) FROM app2.customers WHERE name = 'after-a-cutover'"));
        });
        // Cleaning the finished migration up removes its state only: the other's state and slot stay.
        // As if a --schema-map run of each had stopped between creating and dropping a scratch database.
        target.execute("postgres", "CREATE DATABASE ferry_app1_scratch_post", "CREATE DATABASE ferry_app2_scratch_pre");
        FerryCommand clean = FerryCommand.run("clean", "--source", source.uri("shop_a"), "--target", target.uri("merged"), "--migration", "app1",
                "--schema-map", "public=app1", "--yes");
        assertEquals(ExitCode.OK, clean.code(), clean.out() + clean.err());
        assertEquals("f", target.queryValue("merged", "SELECT to_regclass('ferry_app1.migration') IS NOT NULL"));
        assertEquals("t", target.queryValue("merged", "SELECT to_regclass('ferry_app2.migration') IS NOT NULL"));
        assertEquals("1", source.queryValue("postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ferry_shop_b'"));
        assertEquals("ferry_app2_scratch_pre", target.queryValue("postgres", "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE 'ferry%scratch%'"),
                "clean dropped app1's scratch database, not app2's");
        target.execute("postgres", "DROP DATABASE ferry_app2_scratch_pre");

        new CutoverRequest(b.source, merged, new StateStore("ferry_app2")).run(Duration.ofMinutes(2), new PrintWriter(new StringWriter()));
        agentB.awaitSummary(Duration.ofMinutes(1));

        for (String[] pair : new String[][] {{"shop_a", "app1"}, {"shop_b", "app2"}}) {
            String db = pair[0];
            String schema = pair[1];
            for (String table : List.of("customers", "orders", "big_orders")) {
                assertEquals(source.query(db, "SELECT * FROM public." + table + " ORDER BY 1"), target.query("merged", "SELECT * FROM " + schema + "." + table + " ORDER BY 1"),
                        table + " of " + db + " in " + schema);
            }
            assertEquals("t", target.queryValue("merged", "SELECT relispopulated FROM pg_class WHERE oid = '" + schema + ".customer_totals'::regclass"),
                    "the materialized view populated on the source is refreshed on the target under its new name");
            assertEquals(source.queryValue(db, "SELECT order_total(41)"), target.queryValue("merged", "SELECT " + schema + ".order_total(41)"));
            for (String sequence : List.of("invoice_no", "customers_id_seq", "orders_id_seq")) {
                assertEquals(source.queryValue(db, "SELECT last_value FROM public." + sequence), target.queryValue("merged", "SELECT last_value FROM " + schema + "." + sequence),
                        sequence + " of " + db);
            }
            // What the catalog stores as a reference followed the rename: the default, the foreign key, the view, the trigger.
            assertEquals("nextval('" + schema + ".customers_id_seq'::regclass)", target.queryValue("merged",
                    "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = '" + schema + ".customers'::regclass"));
            assertEquals(schema + ".customers", target.queryValue("merged",
                    "SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = '" + schema + ".orders'::regclass AND contype = 'f'"));
            target.execute("merged", "INSERT INTO " + schema + ".orders (customer_id, amount) VALUES (1, 1)");
            assertEquals("none", target.queryValue("merged", "SELECT note FROM " + schema + ".orders ORDER BY id DESC LIMIT 1"));
            target.execute("merged", "DELETE FROM " + schema + ".orders WHERE id = (SELECT max(id) FROM " + schema + ".orders)");
        }
        // ferry verify through the map: each source against its own schema only, and a changed row is found there.
        FerryCommand verifiedA = FerryCommand.run("verify", "--source", source.uri("shop_a"), "--target", target.uri("merged"), "--migration", "app1",
                "--schema-map", "public=app1");
        assertEquals(ExitCode.OK, verifiedA.code(), verifiedA.out() + verifiedA.err());
        assertTrue(verifiedA.out().contains("customers") && !verifiedA.out().contains("only on the target"), verifiedA.out());
        target.execute("merged", "UPDATE app2.customers SET name = 'changed' WHERE id = 2");
        VerifyReport verifiedB = verify(b, "app2");
        assertEquals(List.of("\"public\".\"customers\""), verifiedB.tables().stream().filter(t -> !t.identical()).map(t -> t.table().toString()).toList(),
                verifiedB.toString());
        assertTrue(verifiedB.otherDifferences().isEmpty(), verifiedB.toString());
        // The extension both sources had in public stays there, shared: app1's and app2's columns use public.citext.
        assertEquals("public", target.queryValue("merged", "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'citext'"));
        assertEquals("1", target.queryValue("merged", "SELECT count(*) FROM app2.customers WHERE email = 'user7@example.com'"));
        assertEquals("0", target.queryValue("merged", "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"),
                "nothing landed in the target's public schema");
        assertEquals("0", target.queryValue("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'ferry%scratch%'"), "scratch databases dropped");
    }

    /**
     * A mapped migration killed and resumed in its copy (the state set up by hand as in KillRecoveryTest: "child"'s copy
     * undone, its key not built): the restart empties and copies again into app1, renames post-data again, and
     * finishes; `ferry status --migration` finds it, plain `ferry status` says to name one.
     */
    @Test
    void aMappedMigrationResumedInItsCopyFinishesIntoItsSchema() throws Exception {
        MigrationFixture m = new MigrationFixture(source, target, "remap");
        source.execute("remap", "CREATE TABLE parent (id int PRIMARY KEY)",
                "CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent)",
                "INSERT INTO parent SELECT g FROM generate_series(1, 1000) g", "INSERT INTO child SELECT g, g FROM generate_series(1, 1000) g");
        m.extraArgs.addAll(List.of("--schema-map", "public=app1", "--migration", "app1"));
        Process first = m.startChild(1, "copy");
        awaitStreaming(m.target, "app1", first, m);
        first.destroyForcibly();
        assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        target.execute("remap", "UPDATE ferry_app1.migration SET phase = 'copy'", "DELETE FROM ferry_app1.copy_progress WHERE table_name = 'child'",
                "ALTER TABLE app1.child DROP CONSTRAINT child_parent_id_fkey");
        source.execute("remap", "INSERT INTO parent VALUES (1001)", "INSERT INTO child VALUES (1001, 1001)");

        Process second = m.startChild(1, "copy");
        awaitStreaming(m.target, "app1", second, m);
        assertTrue(m.log("ferry.log").contains("copying 2 tables again"), "parent is copied again with child");
        String targetUri = target.uri("remap");
        FerryCommand status = FerryCommand.run("status", "--target", targetUri, "--migration", "app1");
        assertEquals(ExitCode.OK, status.code(), status.err());
        assertTrue(status.out().contains("stream"), status.out());
        FerryCommand unnamed = FerryCommand.run("status", "--target", targetUri);
        assertTrue(unnamed.code() != ExitCode.OK && unnamed.err().contains("named migrations app1") && unnamed.err().contains("--migration app1"),
                unnamed.out() + unnamed.err());

        FerryCommand cutover = FerryCommand.run("cutover", "--source", source.uri("remap"), "--target", targetUri, "--migration", "app1", "--timeout", "2m");
        assertEquals(ExitCode.OK, cutover.code(), cutover.out() + cutover.err());
        assertTrue(second.waitFor(60, TimeUnit.SECONDS), "the agent exits after the cutover");
        for (String table : List.of("parent", "child")) {
            assertEquals(source.query("remap", "SELECT * FROM public." + table + " ORDER BY 1"), target.query("remap", "SELECT * FROM app1." + table + " ORDER BY 1"));
        }
        assertEquals("app1.parent", target.queryValue("remap", "SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = 'app1.child'::regclass AND contype = 'f'"));
    }

    @Test
    void malformedMapsAreBadInputNamingTheEntry() {
        for (String[] bad : new String[][] {{"public"}, {"=app1"}, {"public="}, {"public=app1", "public=app2"}, {"a=x", "b=x"}, {"public=pg_app"},
                {"public=public"}}) {
            List<String> args = new java.util.ArrayList<>(List.of("preflight", "--source", source.uri("postgres"), "--target", target.uri("postgres")));
            for (String entry : bad) args.addAll(List.of("--schema-map", entry));
            FerryCommand run = FerryCommand.run(args.toArray(String[]::new));
            assertEquals(ExitCode.BAD_INPUT, run.code(), String.join(" ", bad) + ": " + run.out() + run.err());
            assertTrue(run.err().contains("--schema-map '" + bad[bad.length - 1] + "'"), run.err());
        }
        FerryCommand badName = FerryCommand.run("preflight", "--source", source.uri("postgres"), "--target", target.uri("postgres"), "--migration", "App 1");
        assertEquals(ExitCode.BAD_INPUT, badName.code(), badName.err());
        assertTrue(badName.err().contains("--migration 'App 1'"), badName.err());
    }

    @Test
    void mapOntoASchemaInUseLargeObjectsAndFunctionsNamingTheSchemaAreReported() {
        source.createDatabase("shop_c");
        source.execute("shop_c", "CREATE TABLE customers (id int PRIMARY KEY)",
                "CREATE FUNCTION customer_count() RETURNS bigint LANGUAGE plpgsql AS $$BEGIN RETURN (SELECT count(*) FROM public.customers); END$$",
                "SELECT lo_create(0)");
        target.createDatabase("taken");
        target.execute("taken", "CREATE SCHEMA app1", "CREATE TABLE app1.invoices (id int)");
        FerryCommand run = FerryCommand.run("preflight", "--source", source.uri("shop_c"), "--target", target.uri("taken"),
                "--schema-map", "public=app1", "--migration", "app1");
        assertEquals(ExitCode.PREFLIGHT_FAILED, run.code(), run.out() + run.err());
        assertTrue(run.out().contains("FAIL target-schemas") && run.out().contains("\"app1\" holds relation app1.invoices"), run.out());
        assertTrue(run.out().contains("FAIL schema-map-large-objects"), run.out());
        assertTrue(run.out().contains("WARN schema-map-functions") && run.out().contains("customer_count()"), run.out());
        assertTrue(run.out().contains("PASS target-empty"), run.out());
    }

    private static VerifyReport verify(MigrationFixture shop, String schema) {
        return new Verification(shop.source, new Database(ConnectionSpec.parse("target", target.uri("merged")), "target"),
                new Verification.Options(2, Set.of(), 1, Duration.ofSeconds(10), 64 * 1024), new StateStore("ferry_" + schema),
                SchemaMap.parse(List.of("public=" + schema))).run(new PrintWriter(new StringWriter()));
    }

    private MigrationConfig config(MigrationFixture shop, String schema) {
        return new MigrationConfig(ConnectionSpec.parse("source", source.uri(shop.database)), ConnectionSpec.parse("target", target.uri("merged")), 2,
                shop.logDir, shop.logDir.resolveSibling("work-merge-" + shop.database), MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP,
                MigrationConfig.defaultSlotName(shop.database), Set.of(), Set.of(), 0, Duration.ofSeconds(1),
                SchemaMap.parse(List.of("public=" + schema)), Optional.of(schema));
    }

    private static void awaitStreaming(Database target, String migration, Process agent, MigrationFixture m) {
        StateStore state = new StateStore("ferry_" + migration);
        Deadline.await(migration + " to stream", Duration.ofMinutes(2), () -> {
            if (!agent.isAlive()) throw new AssertionError("the agent exited with " + agent.exitValue() + ": " + m.log("child-console.log"));
            try (Connection c = target.open()) {
                return state.load(c).filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
            } catch (SQLException | RuntimeException e) {
                return false;
            }
        });
    }

    private static void awaitStreaming(Database merged, String migration, MigrationFixture.InProcessAgent agent) {
        StateStore state = new StateStore("ferry_" + migration);
        Deadline.await(migration + " to stream", Duration.ofMinutes(3), () -> {
            agent.failIfDead();
            try (Connection c = merged.open()) {
                return state.load(c).filter(s -> s.phase() == MigrationState.Phase.STREAM && s.heartbeatAt().isPresent()).isPresent();
            } catch (SQLException | RuntimeException e) {
                return false;
            }
        });
    }
}
