package dev.ferry.agent.preflight;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.testing.FerryCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.PostgreSQLContainer;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The TimescaleDB checks against the timescale/timescaledb-ha image, where a Docker engine exists; JUnit reports it
 * skipped ("disabled without Docker") elsewhere. TimescaleTest covers the same ground with the local builds.
 */
@Testcontainers(disabledWithoutDocker = true)
@Timeout(300)
class TimescaleContainerTest {
    @Container
    private static final PostgreSQLContainer<?> TIMESCALE = new PostgreSQLContainer<>(
            DockerImageName.parse("timescale/timescaledb-ha:pg17").asCompatibleSubstituteFor("postgres"))
            .withCommand("postgres", "-c", "wal_level=logical", "-c", "timescaledb.telemetry_level=off");

    @Test
    void hypertablesAndJobsAreReported() throws Exception {
        try (Connection c = DriverManager.getConnection(TIMESCALE.getJdbcUrl(), TIMESCALE.getUsername(), TIMESCALE.getPassword());
             Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE ts_target");
            s.execute("CREATE EXTENSION IF NOT EXISTS timescaledb");
            s.execute("CREATE TABLE conditions (time timestamptz NOT NULL, device int, temperature float8)");
            s.execute("SELECT create_hypertable('conditions', 'time')");
            s.execute("SELECT add_retention_policy('conditions', interval '30 days')");
        }
        String base = "postgres://" + TIMESCALE.getUsername() + ":" + TIMESCALE.getPassword() + "@" + TIMESCALE.getHost() + ":" + TIMESCALE.getFirstMappedPort() + "/";
        FerryCommand report = FerryCommand.run("preflight", "--source", base + TIMESCALE.getDatabaseName(), "--target", base + "ts_target");
        assertEquals(ExitCode.PREFLIGHT_FAILED, report.code(), report.out());
        assertTrue(report.out().contains("FAIL timescaledb-hypertables: hypertables public.conditions have neither a primary key nor REPLICA IDENTITY FULL"),
                report.out());
        assertTrue(report.out().contains("FAIL timescaledb-jobs: retention policies 1000 (on public.conditions) are scheduled on the source"), report.out());
    }
}
