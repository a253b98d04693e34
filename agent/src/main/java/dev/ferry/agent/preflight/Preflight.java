package dev.ferry.agent.preflight;

import dev.ferry.agent.config.MigrationConfig;

import java.util.List;

/**
 * Inspects both servers read-only and reports every known migration hazard. Creates nothing on either server.
 * (Stub for the spine; the full set of checks is issue 4.)
 */
public final class Preflight {
    private final MigrationConfig config;

    public Preflight(MigrationConfig config) {
        this.config = config;
    }

    public PreflightReport run() {
        return new PreflightReport(List.of());
    }
}
