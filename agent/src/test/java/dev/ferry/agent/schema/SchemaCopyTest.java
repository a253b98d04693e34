package dev.ferry.agent.schema;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.config.ConnectionSpec;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** pg_dump / pg_restore of pre-data and post-data against real servers, including reruns after a crash. */
@Timeout(120)
class SchemaCopyTest {
    private static final String OBJECTS = """
            CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TABLE public.parent (id bigserial PRIMARY KEY, name text UNIQUE, m public.mood, total numeric GENERATED ALWAYS AS (id * 2) STORED);
            CREATE TABLE public.child (id int PRIMARY KEY, parent_id bigint REFERENCES public.parent (id) ON DELETE CASCADE, note text);
            CREATE INDEX child_note ON public.child (note);
            CREATE TABLE public.events (at date NOT NULL, v int) PARTITION BY RANGE (at);
            CREATE TABLE public.events_2024 PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE VIEW public.named AS SELECT id, name FROM public.parent;
            CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
            CREATE TRIGGER child_touch BEFORE UPDATE ON public.child FOR EACH ROW EXECUTE FUNCTION public.touch();
            """;

    private static TestPostgres source;
    private static TestPostgres target;

    @BeforeAll
    static void start() {
        source = TestPostgres.start();
        target = TestPostgres.start();
    }

    @AfterAll
    static void stop() {
        if (source != null) source.close();
        if (target != null) target.close();
    }

    private static SchemaCopy schemaCopy(String db) {
        MigrationConfig config = new MigrationConfig(ConnectionSpec.parse("source", source.uri(db)), ConnectionSpec.parse("target", target.uri(db)),
                2, Path.of("target/test-tmp/schema-logs"), Path.of("target/test-tmp/schema-work-" + db).toAbsolutePath(),
                MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP, "ferry_" + db, Set.of(), Set.of(), 0, Duration.ofSeconds(1));
        SchemaCopy copy = new SchemaCopy(config);
        copy.checkTools(source.major());
        return copy;
    }

    private static String catalog(TestPostgres server, String db) {
        return server.query(db, """
                SELECT string_agg(c.relkind::text || ' ' || c.relname, ', ' ORDER BY c.relname) FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'""").toString()
                + server.query(db, "SELECT string_agg(conname, ', ' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace")
                + server.query(db, "SELECT string_agg(tgname, ', ' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal");
    }

    @Test
    void preDataThenPostDataReproducesTheSchemaAndRerunsAreHarmless() {
        source.createDatabase("schema_ok");
        target.createDatabase("schema_ok");
        source.execute("schema_ok", OBJECTS);
        SchemaCopy copy = schemaCopy("schema_ok");

        copy.copyPreData(Optional.empty());
        assertEquals("0", target.queryValue("schema_ok", "SELECT count(*) FROM pg_indexes WHERE indexname = 'child_note'"), "indexes wait for post-data");
        copy.copyPreData(Optional.empty()); // a restart during pre-data runs it again
        copy.copyPostData();
        target.execute("schema_ok", "DROP INDEX public.child_note"); // as if killed halfway through post-data
        copy.copyPostData();

        assertEquals(catalog(source, "schema_ok"), catalog(target, "schema_ok"));
        target.execute("schema_ok", "INSERT INTO public.parent (name, m) VALUES ('x', 'happy')");
        assertEquals("2", target.queryValue("schema_ok", "SELECT total FROM public.parent"), "generated column computed on the target");
    }

    @Test
    void missingToolsForANewerSourceNameTheVersionAndTheFix() {
        MigrationConfig config = new MigrationConfig(ConnectionSpec.parse("source", source.uri("postgres")), ConnectionSpec.parse("target", target.uri("x")),
                1, Path.of("target"), Path.of("target"), MigrationConfig.SchemaMode.COPY, MigrationConfig.NumericNanInf.KEEP,
                "ferry_x", Set.of(), Set.of(), 0, Duration.ofSeconds(1));
        FerryException e = assertThrows(FerryException.class, () -> new SchemaCopy(config).checkTools(99));
        assertTrue(e.describe().contains("postgresql-client-99"), e.describe());
        assertTrue(e.describe().contains("--schema existing"), e.describe());
    }
}
