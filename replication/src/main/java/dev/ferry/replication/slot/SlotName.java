package dev.ferry.replication.slot;

import java.util.regex.Pattern;

/**
 * A replication slot name as PostgreSQL accepts it: lower-case letters, digits and underscores, 1 to 63 characters.
 * Safe to paste into SQL and replication commands without quoting; {@code toString()} is the name itself.
 */
public record SlotName(String value) {
    private static final Pattern VALID = Pattern.compile("[a-z0-9_]{1,63}");

    public SlotName {
        if (value == null || !VALID.matcher(value).matches()) {
            throw new IllegalArgumentException("invalid replication slot name \"" + value
                    + "\": use 1 to 63 lower-case letters, digits or underscores");
        }
    }

    @Override
    public String toString() { return value; }
}
