package dev.ferry.replication;

/** A WAL position. {@link #toString()} prints it exactly as {@code pg_current_wal_lsn()} does: {@code 16/B374D848}. */
public record Lsn(long value) implements Comparable<Lsn> {
    public static final Lsn ZERO = new Lsn(0);

    /** Parses {@code 16/B374D848}; anything else throws, naming the input. */
    public static Lsn parse(String text) {
        if (text == null) throw new IllegalArgumentException("LSN is missing");
        int slash = text.indexOf('/');
        if (slash <= 0 || slash == text.length() - 1) throw new IllegalArgumentException("not an LSN: '" + text + "' (expected like 16/B374D848)");
        try {
            long high = Long.parseLong(text.substring(0, slash), 16);
            long low = Long.parseLong(text.substring(slash + 1), 16);
            if (high < 0 || high > 0xFFFFFFFFL || low < 0 || low > 0xFFFFFFFFL) throw new NumberFormatException();
            return new Lsn((high << 32) | low);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an LSN: '" + text + "' (expected like 16/B374D848)", e);
        }
    }

    public static Lsn max(Lsn a, Lsn b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    @Override
    public int compareTo(Lsn other) {
        return Long.compareUnsigned(value, other.value);
    }

    public boolean isBefore(Lsn other) {
        return compareTo(other) < 0;
    }

    public boolean isAfter(Lsn other) {
        return compareTo(other) > 0;
    }

    @Override
    public String toString() {
        return Long.toHexString(value >>> 32).toUpperCase() + "/" + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase();
    }
}
