package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.io.ByteArrayOutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** Reads the protocol's primitive fields (network byte order) from one message payload. */
final class PayloadReader {
    /** Protocol timestamps count microseconds from this instant. */
    private static final Instant POSTGRES_EPOCH = Instant.parse("2000-01-01T00:00:00Z");

    private final ByteBuffer buffer;

    /** Reads from a duplicate, so the caller's buffer position is left alone. */
    PayloadReader(ByteBuffer payload) {
        this.buffer = payload.duplicate(); // duplicate() is big-endian, as the protocol is
    }

    byte int8() { return buffer.get(); }

    short int16() { return buffer.getShort(); }

    int int32() { return buffer.getInt(); }

    /** Transaction ids are unsigned 32-bit. */
    long xid() { return Integer.toUnsignedLong(buffer.getInt()); }

    Lsn lsn() { return new Lsn(buffer.getLong()); }

    Instant timestamp() { return POSTGRES_EPOCH.plus(buffer.getLong(), ChronoUnit.MICROS); }

    /** A NUL-terminated string; pgjdbc sets client_encoding to UTF8, so the server sends UTF-8. */
    String string() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (byte b = buffer.get(); b != 0; b = buffer.get()) bytes.write(b);
        return bytes.toString(StandardCharsets.UTF_8);
    }

    /**
     * {@code length} bytes as UTF-8 text, decoded straight from the payload: no intermediate copy of the bytes (the
     * JDK then copies ASCII text once into the String).
     */
    String text(int length) {
        if (length < 0 || length > buffer.remaining()) throw new BufferUnderflowException();
        String text;
        if (buffer.hasArray()) {
            text = new String(buffer.array(), buffer.arrayOffset() + buffer.position(), length, StandardCharsets.UTF_8);
        } else {
            byte[] bytes = new byte[length];
            buffer.get(buffer.position(), bytes);
            text = new String(bytes, StandardCharsets.UTF_8);
        }
        buffer.position(buffer.position() + length);
        return text;
    }

    byte[] bytes(int length) {
        if (length < 0 || length > buffer.remaining()) throw new BufferUnderflowException();
        byte[] out = new byte[length];
        buffer.get(out);
        return out;
    }

    int remaining() { return buffer.remaining(); }
}
