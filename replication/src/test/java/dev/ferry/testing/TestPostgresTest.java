package dev.ferry.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(120)
class TestPostgresTest {
    @ParameterizedTest
    @ValueSource(ints = {13, 14, 15, 16, 17, 18})
    void startsEachSupportedMajorWithLogicalWal(int major) {
        assumeTrue(TestPostgres.available(major), "no binaries for PostgreSQL " + major);
        try (TestPostgres pg = TestPostgres.start(major, Map.of())) {
            assertEquals(String.valueOf(major), pg.queryValue("postgres", "SELECT current_setting('server_version_num')::int / 10000"));
            assertEquals("logical", pg.queryValue("postgres", "SHOW wal_level"));
        }
    }
}
