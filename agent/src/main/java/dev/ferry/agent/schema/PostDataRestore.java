package dev.ferry.agent.schema;

import dev.ferry.agent.config.TableFilter;
import dev.ferry.agent.name.QualifiedName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Chooses which post-data entries (indexes, constraints, triggers, rules, policies, statistics) still have to be
 * built on the target. Ferry may be stopped in the middle of building them; on the next run every object that
 * exists on the target under the same name and table is skipped, so only the missing ones are built. Two kinds of
 * entry set the state of an object that exists before the entry runs, so their names prove nothing and they run every
 * time: a view's {@code _RETURN} rule, which pg_dump moves to post-data when the view needs a primary key (or breaks a
 * dependency loop) and whose name is on pre-data's stub view; and a partition's clone of a trigger, whose entry only
 * enables or disables it.
 */
final class PostDataRestore {
    private static final Logger log = LoggerFactory.getLogger("ferry.schema");
    /** Catalogs whose objects are matched by name on the target; entries of other kinds are restored every time. */
    private static final Set<Long> CHECKED = Set.of(TocEntry.PG_CLASS, TocEntry.PG_CONSTRAINT, TocEntry.PG_TRIGGER,
            TocEntry.PG_REWRITE, TocEntry.PG_POLICY, TocEntry.PG_STATISTIC_EXT);

    private final Connection source;
    private final Connection target;
    private final TableFilter tables;
    private final UnaryOperator<QualifiedName> asSource;

    PostDataRestore(Connection source, Connection target, TableFilter tables) {
        this(source, target, tables, UnaryOperator.identity());
    }

    /**
     * @param source   where the dump's OIDs are looked up: the source, or with --schema-map the renamed scratch database
     * @param asSource the source name of a table named as {@code source} names it, for the filter (written in source names)
     */
    PostDataRestore(Connection source, Connection target, TableFilter tables, UnaryOperator<QualifiedName> asSource) {
        this.source = source;
        this.target = target;
        this.tables = tables;
        this.asSource = asSource;
    }

    /** The choice: entries to restore, and how many were already on the target. */
    record Selection(List<TocEntry> restore, int alreadyThere) {}

    Selection select(List<TocEntry> entries) throws SQLException {
        Map<Long, Map<Long, CatalogObject>> names = new HashMap<>();
        for (long catalog : CHECKED) names.put(catalog, CatalogObject.lookUp(source, catalog, PreDataRestore.oids(entries, catalog)));
        warnAboutEventTriggers(PreDataRestore.oids(entries, TocEntry.PG_EVENT_TRIGGER));
        List<TocEntry> restore = new ArrayList<>();
        int alreadyThere = 0;
        Set<Long> hypertableKeys = new java.util.HashSet<>();
        for (HypertableForeignKeys.Key key : HypertableForeignKeys.read(source)) hypertableKeys.add(key.oid());
        for (TocEntry entry : entries) {
            if (entry.isSourceOnly() || entry.isTimescaleTrigger()) continue;
            if (entry.catalog() == TocEntry.PG_CONSTRAINT && hypertableKeys.contains(entry.oid())) continue; // made by HypertableForeignKeys
            CatalogObject object = names.getOrDefault(entry.catalog(), Map.of()).get(entry.oid());
            if (object == null) {
                // INDEX ATTACH (a no-op when already attached), comments, materialized view data: safe to run again.
                restore.add(entry);
                continue;
            }
            // A key into a table whose rows stay behind would fail on the first referencing row, and the restore with it.
            if (object.referencedTable().filter(t -> !tables.copiesRows(asSource.apply(t))).isPresent()) {
                QualifiedName referenced = asSource.apply(object.references());
                log.warn("post-data: {} is left out: it references {}, {}.\n  why:  those rows are not on the target, so the key "
                                + "could not be validated and the restore would fail.\n  fix:  once the referenced rows are on the target, run there: {};",
                        object, referenced, tables.migrates(referenced) ? "whose rows --skip-table-data leaves out" : "which the table filter leaves out",
                        constraintDefinition(entry.oid()));
                continue;
            }
            if (object.isViewDefinition() || object.isTriggerClone()) {
                // The view exists on the target as pg_dump's stub (returning NULLs), the clone as soon as its parent
                // trigger does; only their definition or state says whether the entry ran, and both CREATE OR
                // REPLACE VIEW and ALTER TABLE ... ENABLE/DISABLE TRIGGER are safe to run again.
                restore.add(entry);
                continue;
            }
            if (object.existsOn(target)) {
                log.debug("post-data: {} already exists on the target", object);
                alreadyThere++;
            } else {
                restore.add(entry);
            }
        }
        return new Selection(restore, alreadyThere);
    }

    /** The statement that adds the constraint as the source has it. */
    private String constraintDefinition(long oid) throws SQLException {
        try (PreparedStatement ps = source.prepareStatement(
                "SELECT format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)) "
                        + "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.oid = ?")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : "(the constraint no longer exists on the source)";
            }
        }
    }

    /**
     * Event triggers are left out: on the target they would fire on ferry's own DDL during the migration (post-data,
     * index builds, its state schema, the clean-up at cutover), where an auditing trigger writes rows into tables the
     * stream also fills and a guard stops the migration; and creating one needs a superuser. The function each calls
     * is copied, so the WARN gives the statement that creates it as the source has it.
     */
    private void warnAboutEventTriggers(List<Long> oids) throws SQLException {
        if (oids.isEmpty()) return;
        try (PreparedStatement ps = source.prepareStatement(EVENT_TRIGGERS)) {
            ps.setArray(1, source.createArrayOf("int8", oids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    log.warn("post-data: event trigger {} is not copied.\n  why:  it would fire on ferry's own schema changes on the target during the "
                                    + "migration, and creating it needs a superuser.\n  fix:  after cutover, if the application needs it, run on the target: {};",
                            QualifiedName.quote(rs.getString(1)), rs.getString(2));
                }
            }
        }
    }

    private static final String EVENT_TRIGGERS = """
            SELECT evtname, format('CREATE EVENT TRIGGER %I ON %I', evtname, evtevent)
                   || CASE WHEN evttags IS NULL THEN '' ELSE ' WHEN TAG IN (' || array_to_string(ARRAY(SELECT quote_literal(t) FROM unnest(evttags) t), ', ') || ')' END
                   || format(' EXECUTE FUNCTION %I.%I()', n.nspname, p.proname)
                   || CASE evtenabled WHEN 'D' THEN format('; ALTER EVENT TRIGGER %I DISABLE', evtname)
                                      WHEN 'R' THEN format('; ALTER EVENT TRIGGER %I ENABLE REPLICA', evtname)
                                      WHEN 'A' THEN format('; ALTER EVENT TRIGGER %I ENABLE ALWAYS', evtname) ELSE '' END
            FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE e.oid::int8 = ANY (?) ORDER BY evtname""";

    static List<String> options(int jobs) {
        return List.of("--jobs=" + jobs);
    }
}
