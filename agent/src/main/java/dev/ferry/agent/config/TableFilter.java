package dev.ferry.agent.config;

import dev.ferry.agent.ExitCode;
import dev.ferry.agent.FerryException;
import dev.ferry.agent.name.QualifiedName;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which tables a migration takes, from --include-schema, --exclude-schema, --include-table, --exclude-table and
 * --skip-table-data. Answers two questions about a table: is it in the migration (its definition is copied), and are
 * its rows (copied, published, streamed, counted, verified)? Exclusion wins over inclusion. Immutable.
 *
 * <p>Patterns are written as pg_dump's: {@code schema.table} or {@code table}, {@code *} for any characters and
 * {@code ?} for one, unquoted letters folded to lower case, double-quoted parts taken literally (wildcards too) and
 * case-sensitively. Unlike pg_dump, a table pattern without a schema matches in every schema, not only those on the
 * search_path. A partition follows its partitioned table unless an --exclude-table or --skip-table-data pattern
 * names the partition itself.
 */
public final class TableFilter {
    /** Everything: the filter of a migration without filter options. */
    public static final TableFilter NONE = new TableFilter(List.of(), List.of(), List.of(), List.of(), List.of());

    private final List<NamePattern> includeSchemas;
    private final List<NamePattern> excludeSchemas;
    private final List<NamePattern> includeTables;
    private final List<NamePattern> excludeTables;
    private final List<NamePattern> skipData;

    private TableFilter(List<NamePattern> includeSchemas, List<NamePattern> excludeSchemas, List<NamePattern> includeTables,
                        List<NamePattern> excludeTables, List<NamePattern> skipData) {
        this.includeSchemas = List.copyOf(includeSchemas);
        this.excludeSchemas = List.copyOf(excludeSchemas);
        this.includeTables = List.copyOf(includeTables);
        this.excludeTables = List.copyOf(excludeTables);
        this.skipData = List.copyOf(skipData);
    }

    /** Parses the options' values; a malformed pattern is bad input naming the option and the pattern. */
    public static TableFilter parse(List<String> includeSchemas, List<String> excludeSchemas, List<String> includeTables,
                                    List<String> excludeTables, List<String> skipData) {
        return new TableFilter(schemas("--include-schema", includeSchemas), schemas("--exclude-schema", excludeSchemas),
                tables("--include-table", includeTables), tables("--exclude-table", excludeTables), tables("--skip-table-data", skipData));
    }

    /** Exactly these tables left out, as the old exact --exclude-table took them. */
    public static TableFilter excluding(Set<QualifiedName> tables) {
        List<NamePattern> patterns = new ArrayList<>();
        for (QualifiedName table : tables) {
            patterns.add(new NamePattern("--exclude-table", table.toString(), Pattern.compile(Pattern.quote(table.schema())),
                    Pattern.compile(Pattern.quote(table.name()))));
        }
        return new TableFilter(List.of(), List.of(), List.of(), patterns, List.of());
    }

    public boolean isEmpty() {
        return includeSchemas.isEmpty() && excludeSchemas.isEmpty() && includeTables.isEmpty() && excludeTables.isEmpty() && skipData.isEmpty();
    }

    /** Whether the schema's objects are in the migration: included (or no --include-schema given) and not excluded. */
    public boolean migratesSchema(String schema) {
        return (includeSchemas.isEmpty() || anySchema(includeSchemas, schema)) && !anySchema(excludeSchemas, schema);
    }

    /** Whether the table is in the migration: its schema is, the table patterns include it, and none excludes it. */
    public boolean migrates(QualifiedName table) {
        return migratesSchema(table.schema()) && (includeTables.isEmpty() || anyTable(includeTables, table)) && !anyTable(excludeTables, table);
    }

    /** For a partition (or any table, then {@code root} is itself): in the migration with its root, unless excluded by name. */
    public boolean migrates(QualifiedName table, QualifiedName root) {
        if (table.equals(root)) return migrates(table);
        return migrates(root) && migratesSchema(table.schema()) && !anyTable(excludeTables, table);
    }

    /** Whether the table's rows are migrated: copied, published, streamed, counted at the cutover and verified. */
    public boolean copiesRows(QualifiedName table) {
        return copiesRows(table, table);
    }

    public boolean copiesRows(QualifiedName table, QualifiedName root) {
        return migrates(table, root) && !anyTable(skipData, table) && !anyTable(skipData, root);
    }

    /** A sequence goes with its schema and, when a column owns it, with that column's table. */
    public boolean migratesSequence(QualifiedName sequence, QualifiedName ownerOrNull) {
        return migratesSchema(sequence.schema()) && (ownerOrNull == null || migrates(ownerOrNull));
    }

    /**
     * The patterns that match none of {@code schemas} or {@code tables}, as the user typed them after their option
     * (e.g. {@code --exclude-table 'app.ordrs'}): a typo must not silently migrate everything.
     */
    public List<String> unmatched(Collection<String> schemas, Collection<QualifiedName> tables) {
        List<String> unmatched = new ArrayList<>();
        for (List<NamePattern> patterns : List.of(includeSchemas, excludeSchemas)) {
            for (NamePattern p : patterns) if (schemas.stream().noneMatch(p::matchesSchema)) unmatched.add(p.toString());
        }
        for (List<NamePattern> patterns : List.of(includeTables, excludeTables, skipData)) {
            for (NamePattern p : patterns) if (tables.stream().noneMatch(p::matchesTable)) unmatched.add(p.toString());
        }
        return unmatched;
    }

    private static boolean anySchema(List<NamePattern> patterns, String schema) {
        for (NamePattern p : patterns) if (p.matchesSchema(schema)) return true;
        return false;
    }

    private static boolean anyTable(List<NamePattern> patterns, QualifiedName table) {
        for (NamePattern p : patterns) if (p.matchesTable(table)) return true;
        return false;
    }

    private static List<NamePattern> schemas(String option, List<String> texts) {
        List<NamePattern> patterns = new ArrayList<>();
        for (String text : texts) {
            List<Pattern> parts = NamePattern.parts(option, text);
            if (parts.size() != 1) throw NamePattern.bad(option, text, "a schema pattern has no dot outside double quotes", option + " 'app_*'");
            patterns.add(new NamePattern(option, text, parts.get(0), null));
        }
        return patterns;
    }

    private static List<NamePattern> tables(String option, List<String> texts) {
        List<NamePattern> patterns = new ArrayList<>();
        for (String text : texts) {
            List<Pattern> parts = NamePattern.parts(option, text);
            if (parts.size() > 2) throw NamePattern.bad(option, text, "a table pattern is schema.table or table, with at most one dot outside double quotes",
                    option + " 'app.order_*'");
            patterns.add(parts.size() == 1 ? new NamePattern(option, text, null, parts.get(0)) : new NamePattern(option, text, parts.get(0), parts.get(1)));
        }
        return patterns;
    }

    @Override
    public String toString() {
        List<String> all = new ArrayList<>();
        for (List<NamePattern> patterns : List.of(includeSchemas, excludeSchemas, includeTables, excludeTables, skipData)) {
            for (NamePattern p : patterns) all.add(p.toString());
        }
        return all.isEmpty() ? "none" : String.join(" ", all);
    }

    /** One pattern as typed; {@code schema} null: any schema; {@code table} null: a schema pattern. */
    private record NamePattern(String option, String text, Pattern schema, Pattern table) {
        boolean matchesSchema(String name) {
            return schema.matcher(name).matches();
        }

        boolean matchesTable(QualifiedName name) {
            return (schema == null || schema.matcher(name.schema()).matches()) && table.matcher(name.name()).matches();
        }

        /** The dot-separated parts of {@code text}, each as a regular expression matching one whole identifier. */
        static List<Pattern> parts(String option, String text) {
            String example = option.endsWith("schema") ? option + " 'app_*'" : option + " 'app.order_*'";
            if (text.isBlank()) throw bad(option, text, "the pattern is empty", example);
            List<Pattern> parts = new ArrayList<>();
            StringBuilder regex = new StringBuilder();
            int length = 0;
            boolean quoted = false;
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c == '"') {
                    if (quoted && i + 1 < text.length() && text.charAt(i + 1) == '"') { // "" inside quotes: one literal quote
                        regex.append(Pattern.quote("\""));
                        length++;
                        i++;
                    } else {
                        quoted = !quoted;
                    }
                } else if (quoted) {
                    regex.append(Pattern.quote(String.valueOf(c)));
                    length++;
                } else if (c == '.') {
                    if (length == 0) throw bad(option, text, "a name before or after a dot is empty", example);
                    parts.add(Pattern.compile(regex.toString()));
                    regex.setLength(0);
                    length = 0;
                } else if (c == '*') {
                    regex.append(".*");
                    length++;
                } else if (c == '?') {
                    regex.append('.');
                    length++;
                } else if (Character.isWhitespace(c)) {
                    throw bad(option, text, "it holds a space outside double quotes", "quote a name with spaces: " + option + " 'app.\"Order Items\"'");
                } else {
                    // Unquoted names fold to lower case, as in SQL and pg_dump.
                    regex.append(Pattern.quote(String.valueOf(c).toLowerCase(Locale.ROOT)));
                    length++;
                }
            }
            if (quoted) throw bad(option, text, "a double quote is not closed", example);
            if (length == 0) throw bad(option, text, "a name before or after a dot is empty", example);
            parts.add(Pattern.compile(regex.toString()));
            return parts;
        }

        static FerryException bad(String option, String text, String why, String example) {
            return new FerryException(option + " '" + text + "' is not a valid pattern.", why + ".",
                    "write it as pg_dump takes it: * and ? as wildcards, \"Double Quoted\" for names with capitals or spaces, e.g. " + example + ".",
                    ExitCode.BAD_INPUT, null);
        }

        @Override
        public String toString() {
            return option + " '" + text + "'";
        }
    }
}
