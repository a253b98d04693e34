package dev.ferry.agent.logging;

/** Sizes and durations as a person reads them in a log line: 12.4 MB, 3 min 20 s. */
public final class Units {
    private Units() {}

    public static String bytes(long bytes) {
        if (bytes < 1024 * 1024) return String.format("%.1f kB", bytes / 1024.0);
        if (bytes < 1024L * 1024 * 1024) return String.format("%.1f MB", bytes / (1024.0 * 1024));
        return String.format("%.2f GB", bytes / (1024.0 * 1024 * 1024));
    }

    public static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 120) return s + " s";
        if (s < 7200) return (s / 60) + " min " + (s % 60) + " s";
        return (s / 3600) + " h " + (s % 3600 / 60) + " min";
    }
}
