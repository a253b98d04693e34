package dev.ferry.replication.slot;

/** A replication slot name: lower-case letters, digits and underscores, at most 63 characters. */
public record SlotName(String value) {
    public SlotName {
        if (value == null || !value.matches("[a-z0-9_]{1,63}")) {
            throw new IllegalArgumentException("invalid replication slot name '" + value + "': use lower-case letters, digits and underscores, at most 63");
        }
    }

    @Override
    public String toString() {
        return value;
    }
}
