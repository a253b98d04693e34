package dev.ferry.replication;

/**
 * A position in the write-ahead log: an unsigned 64-bit byte offset, written by PostgreSQL as two hexadecimal
 * halves ({@code 16/B374D848}).
 */
public record Lsn(long value) implements Comparable<Lsn> {
    public static final Lsn ZERO = new Lsn(0);

    /** Parses PostgreSQL's text form, e.g. {@code "16/B374D848"}; anything else throws, naming the input. */
    public static Lsn parse(String text) {
        if (text == null) throw new IllegalArgumentException("LSN must not be null");
        int slash = text.indexOf('/');
        if (slash < 1 || slash == text.length() - 1 || slash != text.lastIndexOf('/')) {
            throw new IllegalArgumentException("malformed LSN \"" + text + "\": expected two hexadecimal halves like 16/B374D848");
        }
        long high = parseHalf(text, text.substring(0, slash));
        long low = parseHalf(text, text.substring(slash + 1));
        return new Lsn(high << 32 | low);
    }

    private static long parseHalf(String text, String half) {
        if (half.length() > 8 || !half.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException("malformed LSN \"" + text + "\": \"" + half + "\" is not a 32-bit hexadecimal number");
        }
        return Long.parseLong(half, 16);
    }

    @Override
    public int compareTo(Lsn other) {
        return Long.compareUnsigned(value, other.value);
    }

    public boolean isBefore(Lsn other) { return compareTo(other) < 0; }

    public boolean isAfter(Lsn other) { return compareTo(other) > 0; }

    public static Lsn max(Lsn a, Lsn b) { return a.compareTo(b) >= 0 ? a : b; }

    /** Every WAL page begins with a header; a segment's first page with a longer one (64-bit builds). */
    private static final int SHORT_PAGE_HEADER = 24;
    private static final int LONG_PAGE_HEADER = 40;

    /**
     * The same point in the WAL, where a reader of whole records stops. At a page boundary
     * {@code pg_current_wal_insert_lsn()} points past the new page's header, where no record can start until more WAL
     * is written, while the walsender stops at the boundary itself. A drain waiting for the header's end on an idle
     * server (a cutover's, with the application stopped) would wait until something else writes WAL.
     */
    public Lsn withoutPageHeader(int pageSize, long segmentSize) {
        if (Long.remainderUnsigned(value, segmentSize) == LONG_PAGE_HEADER) return new Lsn(value - LONG_PAGE_HEADER);
        if (Long.remainderUnsigned(value, pageSize) == SHORT_PAGE_HEADER) return new Lsn(value - SHORT_PAGE_HEADER);
        return this;
    }

    /** Exactly what {@code pg_current_wal_lsn()} prints: upper-case hexadecimal halves without leading zeros. */
    @Override
    public String toString() {
        return Long.toHexString(value >>> 32).toUpperCase() + "/" + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase();
    }
}
