package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;

/** One captured workload decoded the way ChangeStream does it (tracking stream blocks), with the facts recorded at capture. */
record CapturedCase(int major, List<Decoded> messages, Properties facts) {
    record Decoded(Lsn walStart, PgOutputMessage message) {}

    static boolean exists(int major, String name) {
        return CapturedCase.class.getResource(resource(major, name, "bin")) != null;
    }

    static CapturedCase load(int major, String name) {
        return load(major, name, CapturedPayloads.Payload::buffer);
    }

    /** Decodes each payload from the buffer {@code form} makes of it (heap, read-only, a slice of a larger array ...). */
    static CapturedCase load(int major, String name, java.util.function.Function<CapturedPayloads.Payload, ByteBuffer> form) {
        try (InputStream bin = open(major, name, "bin"); InputStream facts = open(major, name, "properties")) {
            Properties properties = new Properties();
            properties.load(facts);
            PgOutputDecoder decoder = new PgOutputDecoder(Integer.parseInt(properties.getProperty("protocolVersion")), false);
            List<Decoded> messages = new ArrayList<>();
            boolean inside = false;
            for (CapturedPayloads.Payload p : CapturedPayloads.read(bin).payloads()) {
                PgOutputMessage m = decoder.decode(form.apply(p), inside);
                if (m instanceof StreamStart) inside = true;
                else if (m instanceof StreamStop) inside = false;
                messages.add(new Decoded(p.walStart(), m));
            }
            return new CapturedCase(major, List.copyOf(messages), properties);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String resource(int major, String name, String extension) {
        return "/pgoutput/" + major + "/" + name + "." + extension;
    }

    private static InputStream open(int major, String name, String extension) throws IOException {
        InputStream in = CapturedCase.class.getResourceAsStream(resource(major, name, extension));
        if (in == null) throw new IOException("no captured " + resource(major, name, extension) + "; run PgOutputCapture");
        return in;
    }

    PgOutputMessage get(int index) { return messages.get(index).message(); }

    <T extends PgOutputMessage> List<T> all(Class<T> type) {
        return messages.stream().map(Decoded::message).filter(type::isInstance).map(type::cast).collect(Collectors.toList());
    }

    /** The simple class names of the messages, in order, e.g. [Begin, Relation, Insert, Commit]. */
    List<String> kinds() {
        return messages.stream().map(d -> d.message().getClass().getSimpleName()).collect(Collectors.toList());
    }

    long xid() { return Long.parseLong(facts.getProperty("xid")); }

    int intFact(String name) { return Integer.parseInt(facts.getProperty(name)); }

    Lsn lsnBefore() { return Lsn.parse(facts.getProperty("lsnBefore")); }
}
