package dev.ferry.agent.demo;

import dev.ferry.agent.db.Resources;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;

/** Two throwaway PostgreSQL 15 servers for `ferry demo`, from the embedded binaries in ferry's jar; deleted on close. */
final class DemoServers implements AutoCloseable {
    final EmbeddedPostgres source;
    final EmbeddedPostgres target;

    DemoServers(Path directory) {
        this.source = start(directory.resolve("source"));
        EmbeddedPostgres second;
        try {
            second = start(directory.resolve("target"));
        } catch (RuntimeException e) {
            Resources.closeQuietly(source, "the demo's source server");
            throw e;
        }
        this.target = second;
    }

    private static EmbeddedPostgres start(Path dataDirectory) {
        try {
            return EmbeddedPostgres.builder()
                    .setDataDirectory(dataDirectory)
                    .setCleanDataDirectory(true)
                    .setServerConfig("wal_level", "logical")
                    .setServerConfig("max_replication_slots", "10")
                    .setServerConfig("max_wal_senders", "10")
                    .setServerConfig("logical_decoding_work_mem", "64kB")
                    .setPGStartupWait(Duration.ofSeconds(60))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("could not start an embedded PostgreSQL in " + dataDirectory, e);
        }
    }

    static String uri(EmbeddedPostgres server, String database) {
        return "postgres://postgres@localhost:" + server.getPort() + "/" + database;
    }

    @Override
    public void close() {
        Resources.closeQuietly(target, "the demo's target server");
        Resources.closeQuietly(source, "the demo's source server");
    }

}
