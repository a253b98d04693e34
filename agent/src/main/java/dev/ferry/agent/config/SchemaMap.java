package dev.ferry.agent.config;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.name.QualifiedName;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * {@code --schema-map src=dst}: the target schema each source schema's objects land in. The one place a source name
 * becomes a target name: the source side (publications, COPY ... TO, the slot) keeps source names, everything that
 * writes or reads the target asks {@link #target(QualifiedName)}. Immutable.
 */
public record SchemaMap(Map<String, String> renames) {
    public static final SchemaMap NONE = new SchemaMap(Map.of());
    private static final int MAX_IDENTIFIER_BYTES = 63;

    public SchemaMap {
        renames = Map.copyOf(renames);
    }

    /** Parses the option's values; a malformed or conflicting entry is bad input naming it. */
    public static SchemaMap parse(List<String> entries) {
        Map<String, String> renames = new LinkedHashMap<>();
        Map<String, String> sourceOf = new LinkedHashMap<>();
        for (String entry : entries) {
            int split = separator(entry);
            if (split <= 0 || split == entry.length() - 1) {
                throw bad(entry, "it is not of the form source_schema=target_schema.", "write it as --schema-map public=app1.");
            }
            String from = identifier(entry, entry.substring(0, split));
            String to = identifier(entry, entry.substring(split + 1));
            if (from.equals(to)) throw bad(entry, "it maps a schema onto itself.", "leave it out: unmapped schemas keep their names.");
            if (reserved(from) || reserved(to)) {
                throw bad(entry, "schemas pg_*, information_schema and ferry's own (ferry, ferry_*) cannot be renamed or be renamed to.",
                        "map only your application's schemas.");
            }
            if (renames.containsKey(from)) throw bad(entry, "schema " + QualifiedName.quote(from) + " is mapped twice.", "give each source schema one --schema-map.");
            if (sourceOf.containsKey(to)) {
                throw bad(entry, "schemas " + QualifiedName.quote(sourceOf.get(to)) + " and " + QualifiedName.quote(from) + " would both land in "
                        + QualifiedName.quote(to) + ", and their objects could collide.", "map each source schema to a schema of its own.");
            }
            renames.put(from, to);
            sourceOf.put(to, from);
        }
        return new SchemaMap(renames);
    }

    public boolean isEmpty() { return renames.isEmpty(); }

    /** The target schema of {@code sourceSchema}: its own name unless mapped. */
    public String target(String sourceSchema) {
        return renames.getOrDefault(sourceSchema, sourceSchema);
    }

    public QualifiedName target(QualifiedName source) {
        String schema = target(source.schema());
        return schema.equals(source.schema()) ? source : new QualifiedName(schema, source.name());
    }

    /**
     * The source schema whose objects land in {@code targetSchema}: the inverse of {@link #target(String)} (each target
     * schema has one source, see {@link #parse}). A schema no entry renames to is its own source name.
     */
    public String source(String targetSchema) {
        for (Map.Entry<String, String> rename : renames.entrySet()) {
            if (rename.getValue().equals(targetSchema)) return rename.getKey();
        }
        return targetSchema;
    }

    /** A target table's source name, for matching it against the source-named table filter. */
    public QualifiedName source(QualifiedName onTarget) {
        String schema = source(onTarget.schema());
        return schema.equals(onTarget.schema()) ? onTarget : new QualifiedName(schema, onTarget.name());
    }

    /** As typed: {@code public=app1, "Sales"=app1_sales}. */
    @Override
    public String toString() {
        return renames.entrySet().stream().map(e -> QualifiedName.quote(e.getKey()) + "=" + QualifiedName.quote(e.getValue()))
                .collect(Collectors.joining(", ", "[", "]"));
    }

    /** The '=' outside double quotes, or -1. */
    private static int separator(String entry) {
        boolean quoted = false;
        for (int i = 0; i < entry.length(); i++) {
            char c = entry.charAt(i);
            if (c == '"') quoted = !quoted;
            else if (c == '=' && !quoted) return i;
        }
        return -1;
    }

    /** Unquoted as written (case kept, as the catalog spells it); a quoted name is unquoted. */
    private static String identifier(String entry, String text) {
        String name = text.length() >= 2 && text.startsWith("\"") && text.endsWith("\"")
                ? text.substring(1, text.length() - 1).replace("\"\"", "\"") : text;
        if (name.isEmpty() || (!text.startsWith("\"") && (name.contains("\"") || name.contains(".") || !name.strip().equals(name)))) {
            throw bad(entry, "'" + text + "' is not a schema name.", "write plain names (public=app1), or double-quote one with special characters.");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_IDENTIFIER_BYTES) {
            throw bad(entry, "'" + text + "' is longer than PostgreSQL's 63 bytes for a name.", "choose a shorter schema name.");
        }
        return name;
    }

    private static boolean reserved(String schema) {
        return schema.startsWith("pg_") || schema.equals("information_schema") || schema.equals("ferry") || schema.startsWith("ferry_")
                || schema.startsWith("_timescaledb") || schema.startsWith("timescaledb_");
    }

    private static FerryException bad(String entry, String why, String fix) {
        return new FerryException("--schema-map '" + entry + "' is not usable.", why, fix, ExitCode.BAD_INPUT, null);
    }
}
