package dev.ferry.agent.db;

import java.util.Set;

/**
 * The TimescaleDB job policies ferry makes again on the target. Here, below both stages, because preflight refuses
 * the source's other jobs with it before schema/TimescaleJobs recreates these.
 */
public final class TimescalePolicies {
    /** Their procedures' names in {@code _timescaledb_config.bgw_job}. */
    public static final Set<String> PROCEDURES = Set.of("policy_compression", "policy_retention", "policy_reorder", "policy_refresh_continuous_aggregate");

    private TimescalePolicies() {
    }
}
