package dev.ferry.replication.stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

@Timeout(10)
class StreamOptionsTest {
    @Test
    void choosesTheHighestProtocolEachServerSpeaks() {
        List<String> pubs = List.of("p");
        assertEquals(new StreamOptions(1, pubs, false, false), StreamOptions.forServer(13, pubs));
        assertEquals(new StreamOptions(2, pubs, true, true), StreamOptions.forServer(14, pubs));
        assertEquals(new StreamOptions(3, pubs, true, true), StreamOptions.forServer(15, pubs));
        assertEquals(new StreamOptions(4, pubs, true, true), StreamOptions.forServer(16, pubs));
        assertEquals(new StreamOptions(4, pubs, true, true), StreamOptions.forServer(18, pubs));
        assertThrows(IllegalArgumentException.class, () -> StreamOptions.forServer(12, pubs));
    }

    @Test
    void quotesPublicationNamesForTheOptionString() {
        StreamOptions options = StreamOptions.forServer(16, List.of("plain", "Pub \"one\", it's"));
        // Identifiers double-quoted; the single quote doubled because pgjdbc wraps the value in '...' as is.
        assertEquals("\"plain\",\"Pub \"\"one\"\", it''s\"", options.publicationNamesOption());
    }

    @Test
    void rejectsStreamingOnProtocol1AndNoPublications() {
        assertThrows(IllegalArgumentException.class, () -> new StreamOptions(1, List.of("p"), true, false));
        assertThrows(IllegalArgumentException.class, () -> new StreamOptions(2, List.of(), false, false));
        assertThrows(IllegalArgumentException.class, () -> new StreamOptions(5, List.of("p"), false, false));
    }
}
