package dev.ferry.replication.stream;

import java.util.List;
import java.util.stream.Collectors;

/**
 * What START_REPLICATION asks pgoutput for: the protocol version, the publications to follow, whether in-progress
 * transactions are streamed in blocks (protocol 2+), and whether {@code pg_logical_emit_message} messages are sent.
 */
public record StreamOptions(int protocolVersion, List<String> publications, boolean streaming, boolean messages) {
    public StreamOptions {
        if (protocolVersion < 1 || protocolVersion > 4) {
            throw new IllegalArgumentException("unsupported pgoutput protocol version " + protocolVersion + ": expected 1 to 4");
        }
        if (publications.isEmpty()) throw new IllegalArgumentException("at least one publication is required");
        if (streaming && protocolVersion < 2) {
            throw new IllegalArgumentException("streaming in-progress transactions needs protocol version 2 or later, not " + protocolVersion);
        }
        publications = List.copyOf(publications);
    }

    /**
     * The highest protocol the server supports: 13 -> 1, 14 -> 2, 15 -> 3, 16+ -> 4. Streaming is 'on' (not
     * 'parallel', so changes of one transaction never interleave with another's) and messages are on from 14.
     */
    public static StreamOptions forServer(int serverMajor, List<String> publications) {
        if (serverMajor < 13) throw new IllegalArgumentException("PostgreSQL " + serverMajor + " is not supported: need 13 or later");
        int protocol = serverMajor == 13 ? 1 : serverMajor == 14 ? 2 : serverMajor == 15 ? 3 : 4;
        return new StreamOptions(protocol, publications, serverMajor >= 14, serverMajor >= 14);
    }

    /**
     * The {@code publication_names} option value: a comma-separated list of identifiers, each double-quoted so case,
     * commas and spaces survive. pgjdbc wraps option values in single quotes without escaping them, so single quotes
     * are doubled here.
     */
    String publicationNamesOption() {
        return publications.stream()
                .map(name -> '"' + name.replace("\"", "\"\"") + '"')
                .collect(Collectors.joining(","))
                .replace("'", "''");
    }
}
