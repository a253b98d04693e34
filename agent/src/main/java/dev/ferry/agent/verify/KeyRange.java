package dev.ferry.agent.verify;

import dev.ferry.agent.name.QualifiedName;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One range of a table's key column, lower bound included and upper bound excluded, either side open; the bounds
 * are values in PostgreSQL's text form. The ranges of one table cover every row exactly once.
 */
record KeyRange(Optional<String> lower, Optional<String> upper) {
    static final KeyRange WHOLE = new KeyRange(Optional.empty(), Optional.empty());

    /** Ranges between consecutive bounds, open at both ends; the bounds must be sorted and distinct. */
    static List<KeyRange> between(List<String> bounds) {
        List<KeyRange> ranges = new ArrayList<>();
        Optional<String> lower = Optional.empty();
        for (String bound : bounds) {
            ranges.add(new KeyRange(lower, Optional.of(bound)));
            lower = Optional.of(bound);
        }
        ranges.add(new KeyRange(lower, Optional.empty()));
        return ranges;
    }

    /** A WHERE clause selecting this range of {@code alias}'s rows, or nothing for the whole table. */
    String where(String alias, Optional<ComparedTable.RangeKey> key) {
        if (key.isEmpty() || (lower.isEmpty() && upper.isEmpty())) return "";
        String column = alias + "." + QualifiedName.quote(key.get().column());
        String type = key.get().type();
        List<String> parts = new ArrayList<>();
        lower.ifPresent(value -> parts.add(column + " >= " + QualifiedName.literal(value) + "::" + type));
        upper.ifPresent(value -> parts.add(column + " < " + QualifiedName.literal(value) + "::" + type));
        return " WHERE " + String.join(" AND ", parts);
    }

    @Override
    public String toString() {
        if (lower.isEmpty() && upper.isEmpty()) return "all rows";
        return "key " + lower.map(v -> "from " + v).orElse("") + (lower.isPresent() && upper.isPresent() ? " " : "")
                + upper.map(v -> "below " + v).orElse("");
    }
}
