package dev.ferry.agent.schema;

import dev.ferry.agent.db.ConnectionFailures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.SQLException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** pg_restore's and pg_dump's errors, as they print them, mapped to the SQLSTATE that decides whether ferry waits. */
@Timeout(10)
class ToolFailureTest {

    @Test
    void aConnectionClosedUnderPgRestoreIsAConnectionFailure() {
        // Printed by pg_restore 15 when NetworkFaultTest cut the target's connections under a post-data build.
        SQLException cause = ToolFailure.cause("pg_restore", new ToolRun.Result(1, """
                pg_restore: error: could not execute query: server closed the connection unexpectedly
                \tThis probably means the server terminated abnormally
                \tbefore or while processing the request.
                Command was: ALTER TABLE ONLY public.bulk_1
                    ADD CONSTRAINT bulk_1_slow EXCLUDE USING btree (public.slow_key(payload) WITH =) WHERE ((id <= 5000));
                """));
        assertEquals("08006", cause.getSQLState());
        assertTrue(ConnectionFailures.isTransient(cause));
    }

    @Test
    void aFullDiskAndARefusedConnectionAreWaitedOut() {
        assertEquals("53100", ToolFailure.cause("pg_restore", new ToolRun.Result(1,
                "pg_restore: error: could not execute query: ERROR:  could not extend file \"base/16384/16402\": No space left on device\n"
                        + "HINT:  Check free disk space.\n")).getSQLState());
        assertEquals("08001", ToolFailure.cause("pg_dump", new ToolRun.Result(1,
                "pg_dump: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n")).getSQLState());
    }

    @Test
    void anErrorInTheSchemaItselfIsNotRecognised() {
        assertNull(ToolFailure.cause("pg_restore", new ToolRun.Result(1,
                "pg_restore: error: could not execute query: ERROR:  relation \"bulk_1_slow\" already exists\n")));
        assertNull(ToolFailure.cause("pg_dump", new ToolRun.Result(1,
                "pg_dump: error: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"app\"\n")));
    }
}
