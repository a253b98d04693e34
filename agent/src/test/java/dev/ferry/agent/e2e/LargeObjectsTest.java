package dev.ferry.agent.e2e;

import dev.ferry.agent.config.MigrationConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Large objects, which logical decoding does not carry: copied after the tables and brought up to date at the cutover
 * (created, rewritten, truncated and removed on the source while streaming), with their OIDs, owners and comments.
 */
@Timeout(240)
class LargeObjectsTest extends TwoServers {
    private static final String CONTENTS = "SELECT string_agg(m.oid || ':' || md5(lo_get(m.oid)) || ':' || r.rolname || ':' || coalesce(obj_description(m.oid, 'pg_largeobject'), '-'),"
            + " ',' ORDER BY m.oid) FROM pg_largeobject_metadata m JOIN pg_roles r ON r.oid = m.lomowner";

    @Test
    void largeObjectsArriveAndFollowTheSourceUntilTheCutover() throws Exception {
        MigrationFixture migration = new MigrationFixture(source, target, "large_objects");
        source.execute("postgres", "DO $$ BEGIN CREATE ROLE lo_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
        target.execute("postgres", "DO $$ BEGIN CREATE ROLE lo_owner; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
        source.execute("large_objects",
                "CREATE TABLE public.documents (id int PRIMARY KEY, body oid)",
                // 1.6 MB: more than one chunk of the comparison.
                "SELECT lo_from_bytea(41001, decode(repeat(md5('big'), 100000), 'hex'))",
                "SELECT lo_from_bytea(41002, 'small')",
                "SELECT lo_from_bytea(41003, 'to be removed')",
                "SELECT lo_from_bytea(41004, 'to be rewritten')",
                "ALTER LARGE OBJECT 41002 OWNER TO lo_owner",
                "COMMENT ON LARGE OBJECT 41002 IS 'the small one'",
                "INSERT INTO public.documents VALUES (1, 41001), (2, 41002), (3, 41003), (4, 41004)");
        MigrationFixture.InProcessAgent agent = migration.startInProcess(migration.config(MigrationConfig.SchemaMode.COPY, 2));
        agent.awaitStreaming(Duration.ofMinutes(2));
        assertEquals(source.queryValue("large_objects", CONTENTS), target.queryValue("large_objects", CONTENTS), "copied after the tables");

        source.execute("large_objects",
                "SELECT lo_from_bytea(41005, 'created while streaming')",
                "INSERT INTO public.documents VALUES (5, 41005)",
                "SELECT lo_unlink(41003)", "DELETE FROM public.documents WHERE id = 3",
                "SELECT lo_put(41004, 3, 'REWRITTEN')",
                "BEGIN; SELECT lo_truncate64(lo_open(41001, x'20000'::int), 1000); COMMIT;",
                "COMMENT ON LARGE OBJECT 41002 IS 'a new comment'");
        String summary = migration.cutover(Duration.ofMinutes(1));
        assertTrue(summary.contains("migration finished"), summary);
        agent.awaitSummary(Duration.ofSeconds(30));

        assertEquals(source.queryValue("large_objects", CONTENTS), target.queryValue("large_objects", CONTENTS), "up to date at the cutover");
        assertEquals("4", target.queryValue("large_objects", "SELECT count(*) FROM pg_largeobject_metadata"));
        assertEquals("lo_owner", target.queryValue("large_objects", "SELECT lomowner::regrole::text FROM pg_largeobject_metadata WHERE oid = 41002"));
        assertTrue(migration.compare().identical(), String.join("\n", migration.compare().differences()));
        assertTrue(migration.log("cutover.log").contains("large objects: 4 on the source, 3 written to the target (1038 bytes), 1 removed from it"), migration.log("cutover.log"));
    }
}
