package dev.ferry.agent.schema;

import dev.ferry.agent.db.QualifiedName;
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
    private final Set<QualifiedName> excludedTables;

    PostDataRestore(Connection source, Connection target, Set<QualifiedName> excludedTables) {
        this.source = source;
        this.target = target;
        this.excludedTables = excludedTables;
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
            if (object.referencedTable().filter(excludedTables::contains).isPresent()) {
                log.warn("post-data: {} is not created: it references {}, which is excluded from the migration", object, object.references());
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
