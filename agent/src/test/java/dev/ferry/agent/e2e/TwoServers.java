package dev.ferry.agent.e2e;

import dev.ferry.testing.TestPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** A source and a target server shared by the tests of one class; each test uses its own databases on them. */
abstract class TwoServers {
    static TestPostgres source;
    static TestPostgres target;

    @BeforeAll
    static void startServers() {
        source = TestPostgres.start();
        target = TestPostgres.start();
    }

    @AfterAll
    static void stopServers() {
        if (source != null) source.close();
        if (target != null) target.close();
    }
}
