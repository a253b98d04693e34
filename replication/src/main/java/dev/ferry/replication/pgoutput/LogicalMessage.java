package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.util.Arrays;

/** A message written with {@code pg_logical_emit_message}. The content is copied in and out: the record stays immutable. */
public record LogicalMessage(boolean transactional, Lsn lsn, String prefix, byte[] content) implements PgOutputMessage {
    public LogicalMessage {
        content = content.clone();
    }

    @Override
    public byte[] content() { return content.clone(); }

    @Override
    public boolean equals(Object o) {
        return o instanceof LogicalMessage m && transactional == m.transactional && lsn.equals(m.lsn)
                && prefix.equals(m.prefix) && Arrays.equals(content, m.content);
    }

    @Override
    public int hashCode() { return 31 * (31 * lsn.hashCode() + prefix.hashCode()) + Arrays.hashCode(content); }

    @Override
    public String toString() {
        return "LogicalMessage[transactional=" + transactional + ", lsn=" + lsn + ", prefix=" + prefix + ", " + content.length + " bytes]";
    }
}
