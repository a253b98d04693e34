package dev.ferry.agent.apply;

import org.postgresql.copy.CopyIn;

import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.Arrays;

/**
 * Rows in COPY's text format, encoded in UTF-8 straight into one buffer that is sent and reused: values separated by
 * tabs, NULL as {@code \N}, backslashes and line breaks escaped. Each value is encoded once by the JDK (a plain copy
 * for ASCII text) and escaped on its bytes, which is safe because no byte of a multi-byte UTF-8 character is ASCII.
 * Owned by one thread.
 */
final class CopyText {
    private byte[] bytes;
    private int length;

    CopyText(int capacity) {
        bytes = new byte[capacity];
    }

    void appendRow(String[] values) {
        for (int i = 0; i < values.length; i++) {
            if (i > 0) put((byte) '\t');
            appendValue(values[i]);
        }
        put((byte) '\n');
    }

    /** Bytes waiting to be sent. */
    int length() {
        return length;
    }

    /** Hands the rows gathered so far to the COPY and empties the buffer. */
    void sendTo(CopyIn in) throws SQLException {
        if (length == 0) return;
        in.writeToCopy(bytes, 0, length);
        length = 0;
    }

    /** The rows gathered so far, as text (for tests). */
    @Override
    public String toString() {
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }

    private void appendValue(String value) {
        if (value == null) {
            put((byte) '\\');
            put((byte) 'N');
            return;
        }
        byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
        int escapes = 0;
        for (byte b : utf8) {
            if (b == '\\' || b == '\t' || b == '\n' || b == '\r') escapes++;
        }
        reserve(utf8.length + escapes);
        if (escapes == 0) {
            System.arraycopy(utf8, 0, bytes, length, utf8.length);
            length += utf8.length;
            return;
        }
        for (byte b : utf8) {
            switch (b) {
                case '\\' -> escaped((byte) '\\');
                case '\t' -> escaped((byte) 't');
                case '\n' -> escaped((byte) 'n');
                case '\r' -> escaped((byte) 'r');
                default -> bytes[length++] = b;
            }
        }
    }

    private void escaped(byte letter) {
        bytes[length++] = '\\';
        bytes[length++] = letter;
    }

    private void put(byte b) {
        reserve(1);
        bytes[length++] = b;
    }

    private void reserve(int more) {
        if (length + more > bytes.length) bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + more));
    }
}
