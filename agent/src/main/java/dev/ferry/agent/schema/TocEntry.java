package dev.ferry.agent.schema;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One line of {@code pg_restore -l}: {@code 3359; 1259 16449 INDEX app orders_customer_idx postgres}. The object is
 * identified by its catalog and OID on the source, never by the printed names, which pg_restore does not quote
 * (a schema named "Ünïcode Schema" prints with its space).
 */
record TocEntry(String line, int dumpId, long catalog, long oid, String description) {
    static final long PG_CLASS = 1259;
    static final long PG_CONSTRAINT = 2606;
    static final long PG_REWRITE = 2618;
    static final long PG_TRIGGER = 2620;
    static final long PG_NAMESPACE = 2615;
    static final long PG_EXTENSION = 3079;
    static final long PG_POLICY = 3256;
    static final long PG_STATISTIC_EXT = 3381;
    static final long PG_EVENT_TRIGGER = 3466;
    static final long PG_SUBSCRIPTION = 6100;
    static final long PG_PUBLICATION = 6104;
    static final long PG_PUBLICATION_REL = 6106;
    static final long PG_PUBLICATION_NAMESPACE = 6237;

    private static final Pattern LINE = Pattern.compile("^(\\d+); (\\d+) (\\d+) (.*)$");

    static List<TocEntry> parse(String listing) {
        List<TocEntry> entries = new ArrayList<>();
        for (String line : listing.split("\n")) {
            Matcher m = LINE.matcher(line);
            if (!m.matches()) continue; // header comments
            entries.add(new TocEntry(line, Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)), m.group(4)));
        }
        return entries;
    }

    /** {@code COMMENT ON EXTENSION} needs the extension's owner; on a managed target that is rarely the migration user. */
    boolean isExtensionComment() {
        return catalog == 0 && description.startsWith("COMMENT - EXTENSION ");
    }

    /** Objects that belong to the source server's replication or to event triggers, which ferry does not copy. */
    /**
     * TimescaleDB's own triggers on a hypertable: {@code ts_insert_blocker} (versions before 2.23 or so) and
     * {@code ts_cagg_invalidation_trigger} (its argument is the source's hypertable id). The target's TimescaleDB makes
     * its own as it needs them, with its own ids; a newer version may lack the functions they call.
     */
    boolean isTimescaleTrigger() {
        return catalog == PG_TRIGGER && description.matches("TRIGGER .* (ts_insert_blocker|ts_cagg_invalidation_trigger)( \\S+)?");
    }

    boolean isSourceOnly() {
        return catalog == PG_SUBSCRIPTION || catalog == PG_PUBLICATION || catalog == PG_PUBLICATION_REL
                || catalog == PG_PUBLICATION_NAMESPACE || catalog == PG_EVENT_TRIGGER;
    }
}
