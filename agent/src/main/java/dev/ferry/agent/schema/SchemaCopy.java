package dev.ferry.agent.schema;

import dev.ferry.agent.config.MigrationConfig;

import java.util.Optional;

/**
 * Copies the schema with pg_dump and pg_restore: pre-data (types, tables, functions) before the data, post-data
 * (indexes, constraints, triggers) after it, so the copy does not maintain indexes row by row.
 * (Stub for the spine: the implementation lands with the schema stage.)
 */
public final class SchemaCopy {
    private final MigrationConfig config;

    public SchemaCopy(MigrationConfig config) {
        this.config = config;
    }

    /** Fails with the fix when pg_dump/pg_restore are missing or older than the source's major version. */
    public void checkTools(int sourceMajor) {
    }

    /** Restores pre-data on the target; with a snapshot name the dump sees exactly the copy's snapshot. Safe to run again. */
    public void copyPreData(Optional<String> snapshotName) {
    }

    /** Builds indexes, constraints and triggers on the target after the data is in; skips what already exists. */
    public void copyPostData() {
    }
}
