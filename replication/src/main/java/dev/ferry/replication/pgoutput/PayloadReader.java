package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

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
    private final int limit;
    /** The next byte to read: reads are absolute, so the caller's buffer (position, byte order) is left alone. */
    private int position;

    PayloadReader(ByteBuffer payload) {
        // Not a duplicate per message: with the C1 compiler nothing short-lived is optimised away, and the stream
        // reader made several buffers per message already.
        this.buffer = payload;
        this.position = payload.position();
        this.limit = payload.limit();
    }

    byte int8() {
        need(1);
        return buffer.get(position++);
    }

    short int16() {
        return (short) unsigned(2);
    }

    int int32() {
        return (int) unsigned(4);
    }

    /** Transaction ids are unsigned 32-bit. */
    long xid() { return unsigned(4); }

    Lsn lsn() { return new Lsn(unsigned(8)); }

    Instant timestamp() { return POSTGRES_EPOCH.plus(unsigned(8), ChronoUnit.MICROS); }

    /** A NUL-terminated string; pgjdbc sets client_encoding to UTF8, so the server sends UTF-8. */
    String string() {
        int end = position;
        while (end < limit && buffer.get(end) != 0) end++;
        if (end == limit) throw new BufferUnderflowException();
        String text = text(end - position);
        position++; // the NUL
        return text;
    }

    /**
     * {@code length} bytes as UTF-8 text, decoded straight from the payload: no intermediate copy of the bytes (the
     * JDK then copies ASCII text once into the String).
     */
    String text(int length) {
        need(length);
        String text;
        if (buffer.hasArray()) {
            text = new String(buffer.array(), buffer.arrayOffset() + position, length, StandardCharsets.UTF_8);
        } else {
            byte[] bytes = new byte[length];
            buffer.get(position, bytes);
            text = new String(bytes, StandardCharsets.UTF_8);
        }
        position += length;
        return text;
    }

    byte[] bytes(int length) {
        need(length);
        byte[] out = new byte[length];
        buffer.get(position, out);
        position += length;
        return out;
    }

    int remaining() { return limit - position; }

    /** The next {@code size} bytes as an unsigned big-endian number (network byte order, whatever the buffer's). */
    private long unsigned(int size) {
        need(size);
        long value = 0;
        for (int i = 0; i < size; i++) value = (value << 8) | (buffer.get(position++) & 0xFF);
        return value;
    }

    private void need(int length) {
        if (length < 0 || length > limit - position) throw new BufferUnderflowException();
    }
}
