package dev.ferry.agent.schema;

import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The source's TimescaleDB jobs (compression, retention and reorder policies, user-defined actions) made again on the
 * target through TimescaleDB's own functions, never by copying {@code _timescaledb_config.bgw_job} rows. They are
 * created paused after the copy, so no job on the target races the stream (a compression or retention job there
 * would change chunks the stream writes into), and scheduled at the cutover as they are on the source. A target job
 * is matched to the source's by procedure, hypertable and configuration (without the hypertable id, which differs),
 * so both steps are safe to run again.
 */
public final class TimescaleJobs {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");

    /** The procedures of the policies ferry recreates; other jobs in TimescaleDB's schemas are refused by preflight. */
    public static final Set<String> POLICIES = Set.of("policy_compression", "policy_retention", "policy_reorder", "policy_refresh_continuous_aggregate");

    private static final String JOBS = """
            SELECT j.id, j.proc_schema, j.proc_name, j.schedule_interval::text, j.max_runtime::text, j.max_retries, j.retry_period::text,
                   j.scheduled, j.fixed_schedule, (j.config - 'hypertable_id' - 'mat_hypertable_id')::text, j.owner::text,
                   coalesce(ca.user_view_schema, h.schema_name), coalesce(ca.user_view_name, h.table_name), j.initial_start::text, j.timezone,
                   coalesce(j.config->>'compress_after', j.config->>'drop_after'),
                   jsonb_typeof(coalesce(j.config->'compress_after', j.config->'drop_after')) = 'number'
            FROM _timescaledb_config.bgw_job j LEFT JOIN _timescaledb_catalog.hypertable h ON h.id = j.hypertable_id
            LEFT JOIN _timescaledb_catalog.continuous_agg ca ON ca.mat_hypertable_id = j.hypertable_id
            WHERE j.id >= 1000 ORDER BY j.id""";

    record Job(long id, String procSchema, String procName, String scheduleInterval, String maxRuntime, int maxRetries, String retryPeriod,
               boolean scheduled, boolean fixedSchedule, String config, String owner, Optional<QualifiedName> hypertable,
               Optional<String> initialStart, Optional<String> timezone, Optional<String> threshold, boolean integerThreshold) {
        /** What identifies the job on either server. */
        String key() {
            return procSchema + "." + procName + " " + hypertable.map(QualifiedName::toString).orElse("-") + " " + config;
        }
    }

    private TimescaleJobs() {}

    /** Creates, paused, every job of the source the target lacks; returns how many were created. */
    public static int createPaused(Connection source, Connection target) throws SQLException {
        if (!Hypertables.hasTimescale(source) || !Hypertables.hasTimescale(target)) return 0;
        Map<String, Job> existing = byKey(read(target));
        int created = 0;
        for (Job job : read(source)) {
            if (existing.containsKey(job.key())) continue;
            long id;
            try (Statement s = target.createStatement(); ResultSet rs = s.executeQuery(create(job))) {
                rs.next();
                id = rs.getLong(1);
            }
            try (Statement s = target.createStatement()) {
                s.execute("SELECT public.alter_job(" + id + ", scheduled => false, max_runtime => " + literal(job.maxRuntime()) + "::interval, max_retries => "
                        + job.maxRetries() + ", retry_period => " + literal(job.retryPeriod()) + "::interval)");
                // TimescaleDB has no function to give a job another owner; its own FAQ updates the catalog the same way.
                s.execute("UPDATE _timescaledb_config.bgw_job SET owner = " + literal(job.owner()) + "::regrole WHERE id = " + id
                        + " AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = " + literal(job.owner()) + ")");
            }
            log.info("jobs: created job {} on the target, paused until the cutover, for source job {} ({}{})", id, job.id(), job.procName(),
                    job.hypertable().map(h -> " on " + h).orElse(""));
            created++;
        }
        return created;
    }

    /** At the cutover: schedules each target job whose source job is scheduled; returns how many. */
    public static int schedule(Connection source, Connection target) throws SQLException {
        if (!Hypertables.hasTimescale(source) || !Hypertables.hasTimescale(target)) return 0;
        Map<String, Job> onTarget = byKey(read(target));
        int scheduled = 0;
        for (Job job : read(source)) {
            Job there = onTarget.get(job.key());
            if (there == null || !job.scheduled() || there.scheduled()) continue;
            try (Statement s = target.createStatement()) {
                s.execute("SELECT public.alter_job(" + there.id() + ", scheduled => true)");
            }
            scheduled++;
        }
        if (scheduled > 0) log.info("jobs: scheduled {} TimescaleDB jobs on the target, as on the source", scheduled);
        return scheduled;
    }

    /** The statement that creates the job on the target and returns its id. */
    static String create(Job job) {
        String start = job.initialStart().map(t -> ", initial_start => " + literal(t) + "::timestamptz").orElse("")
                + job.timezone().map(z -> ", timezone => " + literal(z)).orElse("");
        String schedule = ", schedule_interval => " + literal(job.scheduleInterval()) + "::interval";
        String table = job.hypertable().map(h -> literal(h.toString()) + "::regclass").orElse("NULL");
        String config = "(" + literal(job.config()) + "::jsonb)";
        if (job.procSchema().startsWith("_timescaledb") && job.procName().equals("policy_compression")) {
            return "SELECT public.add_compression_policy(" + table + ", compress_after => " + threshold(job)
                    + schedule + start + ", if_not_exists => true)";
        }
        if (job.procSchema().startsWith("_timescaledb") && job.procName().equals("policy_retention")) {
            return "SELECT public.add_retention_policy(" + table + ", drop_after => " + threshold(job) + schedule + start
                    + ", if_not_exists => true)";
        }
        if (job.procSchema().startsWith("_timescaledb") && job.procName().equals("policy_refresh_continuous_aggregate")) {
            // "hypertable" is the aggregate's view here; its offsets may be NULL (from the beginning, to the end).
            return "SELECT public.add_continuous_aggregate_policy(" + table + ", start_offset => (" + config + "->>'start_offset')::interval, end_offset => ("
                    + config + "->>'end_offset')::interval" + schedule + start + ", if_not_exists => true)";
        }
        if (job.procSchema().startsWith("_timescaledb") && job.procName().equals("policy_reorder")) {
            return "SELECT public.add_reorder_policy(" + table + ", " + config + "->>'index_name'" + start + ", if_not_exists => true)";
        }
        return "SELECT public.add_job(" + literal(QualifiedName.quote(job.procSchema()) + "." + QualifiedName.quote(job.procName())) + "::regproc" + schedule
                + ", config => " + config + start + ", scheduled => false, fixed_schedule => " + job.fixedSchedule() + ")";
    }

    /**
     * A policy's threshold ({@code compress_after}, {@code drop_after}): an interval for a time column, a number for an
     * integer one. A policy by creation time ({@code *_created_before}) has none and is refused by preflight.
     */
    private static String threshold(Job job) {
        String value = job.threshold().orElseThrow(() -> new IllegalStateException("job " + job.id() + " has no compress_after or drop_after"));
        return job.integerThreshold() ? value : literal(value) + "::interval";
    }

    static List<Job> read(Connection connection) throws SQLException {
        List<Job> jobs = new ArrayList<>();
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(JOBS)) {
            while (rs.next()) {
                Optional<QualifiedName> hypertable = rs.getString(12) == null ? Optional.empty() : Optional.of(new QualifiedName(rs.getString(12), rs.getString(13)));
                jobs.add(new Job(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getInt(6), rs.getString(7),
                        rs.getBoolean(8), rs.getBoolean(9), rs.getString(10) == null ? "{}" : rs.getString(10), rs.getString(11), hypertable,
                        Optional.ofNullable(rs.getString(14)), Optional.ofNullable(rs.getString(15)), Optional.ofNullable(rs.getString(16)), rs.getBoolean(17)));
            }
        }
        return jobs;
    }

    private static Map<String, Job> byKey(List<Job> jobs) {
        Map<String, Job> map = new HashMap<>();
        for (Job job : jobs) map.put(job.key(), job);
        return map;
    }

    private static String literal(String text) {
        return "'" + text.replace("'", "''") + "'";
    }
}
