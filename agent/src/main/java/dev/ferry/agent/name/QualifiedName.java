package dev.ferry.agent.name;

import java.util.Objects;

/**
 * A schema-qualified relation name. {@link #toString()} is quoted exactly once and can be pasted into SQL:
 * {@code "app"."Event Log"}.
 */
public record QualifiedName(String schema, String name) implements Comparable<QualifiedName> {
    public QualifiedName {
        Objects.requireNonNull(schema, "schema");
        Objects.requireNonNull(name, "name");
    }

    /** Parses {@code schema.table} as typed on a command line: unquoted parts as written, quoted parts unquoted. */
    public static QualifiedName parse(String text) {
        Objects.requireNonNull(text, "text");
        int split = findSeparator(text);
        if (split < 0) throw new IllegalArgumentException("expected schema.table, got '" + text + "'");
        return new QualifiedName(unquote(text.substring(0, split)), unquote(text.substring(split + 1)));
    }

    private static int findSeparator(String text) {
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') quoted = !quoted;
            else if (c == '.' && !quoted) return i;
        }
        return -1;
    }

    private static String unquote(String part) {
        if (part.length() >= 2 && part.startsWith("\"") && part.endsWith("\"")) {
            return part.substring(1, part.length() - 1).replace("\"\"", "\"");
        }
        return part;
    }

    /** Quotes one identifier for SQL. */
    public static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    /** Quotes a string literal for SQL (standard_conforming_strings on). */
    public static String literal(String value) {
        return '\'' + value.replace("'", "''") + '\'';
    }

    @Override
    public int compareTo(QualifiedName other) {
        int bySchema = schema.compareTo(other.schema);
        return bySchema != 0 ? bySchema : name.compareTo(other.name);
    }

    @Override
    public String toString() {
        return quote(schema) + "." + quote(name);
    }
}
