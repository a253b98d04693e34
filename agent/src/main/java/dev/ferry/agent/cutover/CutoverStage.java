package dev.ferry.agent.cutover;

import dev.ferry.agent.FerryException;
import dev.ferry.agent.apply.IdentityColumns;
import dev.ferry.agent.config.MigrationConfig;
import dev.ferry.agent.schema.ContinuousAggregates;
import dev.ferry.agent.schema.TimescaleJobs;
import dev.ferry.agent.db.Database;
import dev.ferry.agent.db.SourceTable;
import dev.ferry.agent.snapshot.LargeObjects;
import dev.ferry.agent.source.MigrationSlot;
import dev.ferry.agent.source.Publications;
import dev.ferry.agent.state.MigrationState;
import dev.ferry.agent.state.StateStore;
import dev.ferry.agent.stream.Drained;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Finishes a drained migration: sets sequences, compares row counts, and only then marks the migration done and
 * removes the slot and publications from the source. If the counts differ (the application was still
 * writing), nothing is removed and the stream resumes.
 */
public final class CutoverStage {
    private static final Logger log = LoggerFactory.getLogger("ferry.cutover");

    private final MigrationConfig config;
    private final Database source;
    private final Database target;
    private final StateStore state;

    public CutoverStage(MigrationConfig config, Database source, Database target, StateStore state) {
        this.config = config;
        this.source = source;
        this.target = target;
        this.state = state;
    }

    /**
     * One cutover attempt once the stream drained: the summary printed for the user, or empty when verification refused
     * it. The refusal is logged and left in the state for the waiting `ferry cutover`; the caller streams on.
     */
    public Optional<String> attempt(Drained drained, List<SourceTable> tables) throws SQLException {
        try {
            return Optional.of(finish(drained, tables));
        } catch (FerryException refused) {
            log.error("{}", refused.describe());
            try (Connection dst = target.open()) {
                state.failCutover(dst, refused.describe());
            }
            return Optional.empty();
        }
    }

    /** Returns the summary printed for the user; throws FerryException if verification fails. */
    public String finish(Drained drained, List<SourceTable> tables) throws SQLException {
        try (Connection src = source.open(); Connection dst = target.open()) {
            int sequences = new SequenceSync(config.tables(), config.schemaMap()).sync(src, dst);
            RowCountCheck.Outcome counts = new RowCountCheck().check(src, dst, tables, config.tables(), config.schemaMap());
            if (!counts.mismatches().isEmpty()) {
                String list = counts.mismatches().stream()
                        .map(c -> c.table() + " source " + c.source() + " rows, target " + c.target())
                        .collect(Collectors.joining("; "));
                throw new FerryException("cutover verification failed: row counts differ for " + list + ".",
                        "the source was probably still being written after the cutover LSN " + drained.lsn()
                                + ", or rows were changed on the target by hand. Nothing was removed; ferry keeps streaming.",
                        "stop every writer on the source, then run `ferry cutover` again.");
            }
            for (RowCountCheck.TableCount c : counts.insertOnlyDifferences()) log.warn("{}", difference(c));
            for (RowCountCheck.NewTable t : counts.newTables()) log.warn("{}", newTable(t));
            // Only now: had the counts differed the stream would resume, and it needs them BY DEFAULT.
            IdentityColumns.restore(src, dst, tables.stream().map(SourceTable::name).toList(), config.schemaMap());
            // The source is no longer written: its large objects as they are now are the ones the application keeps.
            new LargeObjects(log).sync(src, dst);
            ContinuousAggregates.refresh(src, dst); // over the data as it is at the cutover
            TimescaleJobs.schedule(src, dst); // paused on the target while the stream ran
            // Done on the target first: a kill between the two steps leaves a slot the next `ferry run` drops (see
            // removeFromSource), where the other order left a migration whose slot was gone and that could only start over.
            String summary = summary(dst, drained, counts, sequences, tables.size());
            state.finish(dst, summary);
            removeFromSource(src);
            log.info("{}", summary);
            return summary;
        }
    }

    /**
     * A `ferry run` of a migration whose cutover finished: removes from the source what a cutover killed after it
     * finished on the target may have left there, and returns the summary it recorded.
     */
    public String finished(MigrationState done) throws SQLException {
        try (Connection src = source.open()) {
            if (new MigrationSlot(config, source).exists(src)) {
                log.warn("the cutover had finished on the target but not dropped slot {}: dropping it now", config.slotName());
            }
            removeFromSource(src);
        }
        log.info("this migration already finished:\n{}", done.summary().orElse(""));
        return done.summary().orElse("migration finished");
    }

    /**
     * Drops the migration's slot and publications from the source where they are still there: the last step of the
     * cutover, and of the first `ferry run` after a cutover killed before it.
     */
    public void removeFromSource(Connection src) throws SQLException {
        new MigrationSlot(config, source).drop(src, Duration.ofSeconds(30));
        new Publications(config).drop(src);
        log.info("dropped slot {} and publications {}, {} on the source", config.slotName(), config.publication(), config.insertOnlyPublication());
    }

    private String summary(Connection target, Drained drained, RowCountCheck.Outcome counts, int sequences, int tables) throws SQLException {
        StateStore.CopyTotals copy = state.copyTotals(target);
        long seconds = state.secondsSinceStart(target);
        String duration = String.format("%d:%02d:%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60);
        // NOTE: scripts and the benchmark read these lines; keep the labels.
        List<String> lines = new ArrayList<>(List.of("migration finished",
                String.format("  tables      %d (row counts equal on %d; %d insert-only tables differ)", tables,
                        counts.counts().size() - counts.mismatches().size() - counts.insertOnlyDifferences().size(), counts.insertOnlyDifferences().size())));
        for (RowCountCheck.TableCount c : counts.insertOnlyDifferences()) lines.add("  differs     " + difference(c));
        for (RowCountCheck.NewTable t : counts.newTables()) lines.add("  new table   " + newTable(t));
        lines.addAll(List.of(
                String.format("  rows        %,d on the source at cutover", counts.sourceRows()),
                String.format("  copied      %,d rows, %,d bytes in %d tables", copy.rows(), copy.bytes(), copy.tables()),
                String.format("  streamed    %,d transactions, %,d changes (since the agent last started)", drained.transactions(), drained.changes()),
                String.format("  sequences   %d set to the source's values", sequences),
                String.format("  duration    %s since the migration started", duration),
                String.format("  lag at end  0 bytes: drained to %s", drained.lsn()),
                "  source      slot " + config.slotName() + " and publications dropped"));
        return String.join("\n", lines);
    }

    /** An insert-only table whose counts differ: allowed, since the user was warned, but always named with both counts. */
    private static String difference(RowCountCheck.TableCount c) {
        long by = c.target() - c.source();
        return String.format("%s: %,d rows on the source, %,d on the target (%,d %s); no tuple identifier, so its UPDATEs and DELETEs were not migrated",
                c.table(), c.source(), c.target(), Math.abs(by), by < 0 ? "fewer" : "more");
    }

    private static String newTable(RowCountCheck.NewTable t) {
        return String.format("%s: %,d rows on the source, not migrated: created on the source after the migration started and not followed (stream.log says why)",
                t.table(), t.source());
    }
}
