package dev.ferry.replication.stream;

import java.util.List;

/**
 * Options of pgoutput for one stream.
 *
 * @param streaming ask the server to stream big in-progress transactions (protocol 2+, PostgreSQL 14+)
 * @param messages  also send logical decoding messages (PostgreSQL 14+)
 */
public record StreamOptions(int protocolVersion, List<String> publications, boolean streaming, boolean messages) {
    public StreamOptions {
        publications = List.copyOf(publications);
    }

    /** The highest protocol the server speaks: 13 -> 1, 14 -> 2, 15 -> 3, 16+ -> 4; streaming on 14+ (not parallel). */
    public static StreamOptions forServer(int serverMajor, List<String> publications) {
        int version = serverMajor >= 16 ? 4 : serverMajor == 15 ? 3 : serverMajor == 14 ? 2 : 1;
        return new StreamOptions(version, publications, serverMajor >= 14, serverMajor >= 14);
    }

    /** The publication_names option: each name double-quoted, comma-separated. */
    String publicationNames() {
        StringBuilder names = new StringBuilder();
        for (String publication : publications) {
            if (names.length() > 0) names.append(',');
            names.append('"').append(publication.replace("\"", "\"\"")).append('"');
        }
        return names.toString();
    }
}
