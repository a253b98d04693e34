package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Decodes pgoutput messages, protocol versions 1 to 4. Pure: bytes in, message out, no state between calls; the
 * caller says whether the message sits inside a stream block, where changes carry their transaction's xid.
 * Formats: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */
public final class PgOutputDecoder {
    static final byte BEGIN = 'B';
    static final byte COMMIT = 'C';
    static final byte ORIGIN = 'O';
    static final byte RELATION = 'R';
    static final byte TYPE = 'Y';
    static final byte INSERT = 'I';
    static final byte UPDATE = 'U';
    static final byte DELETE = 'D';
    static final byte TRUNCATE = 'T';
    static final byte MESSAGE = 'M';
    static final byte STREAM_START = 'S';
    static final byte STREAM_STOP = 'E';
    static final byte STREAM_COMMIT = 'c';
    static final byte STREAM_ABORT = 'A';
    static final byte BEGIN_PREPARE = 'b';
    static final byte PREPARE = 'P';
    static final byte COMMIT_PREPARED = 'K';
    static final byte ROLLBACK_PREPARED = 'r';
    static final byte STREAM_PREPARE = 'p';

    static final byte TUPLE_NEW = 'N';
    static final byte TUPLE_KEY = 'K';
    static final byte TUPLE_OLD = 'O';
    static final byte TUPLE_NULL = 'n';
    static final byte TUPLE_UNCHANGED_TOAST = 'u';
    static final byte TUPLE_TEXT = 't';
    static final byte TUPLE_BINARY = 'b';

    private static final int TRUNCATE_CASCADE = 1;
    private static final int TRUNCATE_RESTART_IDENTITY = 2;
    /** Microseconds between the Unix epoch and PostgreSQL's, 2000-01-01. */
    private static final long POSTGRES_EPOCH_MICROS = 946_684_800_000_000L;

    private final int protocolVersion;
    private final boolean parallelStreaming;

    public PgOutputDecoder(int protocolVersion, boolean parallelStreaming) {
        if (protocolVersion < 1 || protocolVersion > 4) throw new IllegalArgumentException("unsupported pgoutput protocol version " + protocolVersion);
        this.protocolVersion = protocolVersion;
        this.parallelStreaming = parallelStreaming;
    }

    public int protocolVersion() {
        return protocolVersion;
    }

    /** Decodes one message; {@code payload} is consumed from its position. */
    public PgOutputMessage decode(ByteBuffer payload, boolean insideStreamBlock) {
        byte kind = payload.get();
        switch (kind) {
            case BEGIN: return new Begin(lsn(payload), time(payload), uint32(payload));
            case COMMIT: return new Commit(payload.get(), lsn(payload), lsn(payload), time(payload));
            case ORIGIN: return new Origin(lsn(payload), string(payload));
            case STREAM_START: return new StreamStart(uint32(payload), payload.get() == 1);
            case STREAM_STOP: return new StreamStop();
            case STREAM_COMMIT: return new StreamCommit(uint32(payload), payload.get(), lsn(payload), lsn(payload), time(payload));
            case STREAM_ABORT: return streamAbort(payload);
            case BEGIN_PREPARE: return new BeginPrepare(lsn(payload), lsn(payload), time(payload), uint32(payload), string(payload));
            case PREPARE: return new Prepare(payload.get(), lsn(payload), lsn(payload), time(payload), uint32(payload), string(payload));
            case COMMIT_PREPARED: return new CommitPrepared(payload.get(), lsn(payload), lsn(payload), time(payload), uint32(payload), string(payload));
            case ROLLBACK_PREPARED: return new RollbackPrepared(payload.get(), lsn(payload), lsn(payload), time(payload), time(payload), uint32(payload), string(payload));
            case STREAM_PREPARE: return new StreamPrepare(payload.get(), lsn(payload), lsn(payload), time(payload), uint32(payload), string(payload));
            default: break;
        }
        // The remaining kinds carry the xid of their (sub)transaction first when streamed.
        if (insideStreamBlock) {
            long xid = uint32(payload);
            return new Streamed(xid, change(kind, payload, true));
        }
        return change(kind, payload, false);
    }

    private PgOutputMessage change(byte kind, ByteBuffer payload, boolean streamed) {
        switch (kind) {
            case RELATION: return relation(payload);
            case TYPE: return new Type(payload.getInt(), string(payload), string(payload));
            case INSERT: {
                int relationId = payload.getInt();
                expect(payload.get(), TUPLE_NEW, "INSERT");
                return new Insert(relationId, tuple(payload));
            }
            case UPDATE: return update(payload);
            case DELETE: {
                int relationId = payload.getInt();
                byte which = payload.get();
                if (which != TUPLE_KEY && which != TUPLE_OLD) throw unexpected(which, "DELETE");
                return new Delete(relationId, tuple(payload));
            }
            case TRUNCATE: {
                int count = payload.getInt();
                int options = payload.get();
                List<Integer> ids = new ArrayList<>(count);
                for (int i = 0; i < count; i++) ids.add(payload.getInt());
                return new Truncate(ids, (options & TRUNCATE_CASCADE) != 0, (options & TRUNCATE_RESTART_IDENTITY) != 0);
            }
            case MESSAGE: {
                boolean transactional = (payload.get() & 1) != 0;
                Lsn lsn = lsn(payload);
                String prefix = string(payload);
                byte[] content = new byte[payload.getInt()];
                payload.get(content);
                return new LogicalMessage(transactional, lsn, prefix, content);
            }
            default:
                throw new IllegalArgumentException("unknown pgoutput message kind '" + (char) kind + "' (byte " + kind + ")"
                        + (streamed ? " inside a stream block" : "") + ", protocol version " + protocolVersion);
        }
    }

    private StreamAbort streamAbort(ByteBuffer payload) {
        long xid = uint32(payload);
        long subXid = uint32(payload);
        if (protocolVersion >= 4 && parallelStreaming) {
            return new StreamAbort(xid, subXid, Optional.of(lsn(payload)), Optional.of(time(payload)));
        }
        return new StreamAbort(xid, subXid, Optional.empty(), Optional.empty());
    }

    private Relation relation(ByteBuffer payload) {
        int relationId = payload.getInt();
        String namespace = string(payload);
        String name = string(payload);
        char replicaIdentity = (char) payload.get();
        int count = payload.getShort() & 0xFFFF;
        List<Relation.Column> columns = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            boolean key = (payload.get() & 1) != 0;
            columns.add(new Relation.Column(key, string(payload), payload.getInt(), payload.getInt()));
        }
        return new Relation(relationId, namespace, name, replicaIdentity, columns);
    }

    private Update update(ByteBuffer payload) {
        int relationId = payload.getInt();
        byte which = payload.get();
        Optional<Tuple> old = Optional.empty();
        if (which == TUPLE_KEY || which == TUPLE_OLD) {
            old = Optional.of(tuple(payload));
            which = payload.get();
        }
        expect(which, TUPLE_NEW, "UPDATE");
        return new Update(relationId, old, tuple(payload));
    }

    private static Tuple tuple(ByteBuffer payload) {
        int count = payload.getShort() & 0xFFFF;
        List<TupleValue> values = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte kind = payload.get();
            switch (kind) {
                case TUPLE_NULL -> values.add(new TupleValue.Null());
                case TUPLE_UNCHANGED_TOAST -> values.add(new TupleValue.UnchangedToast());
                case TUPLE_TEXT -> {
                    int length = payload.getInt();
                    values.add(new TupleValue.Text(new String(payload.array(), payload.arrayOffset() + payload.position(), length, StandardCharsets.UTF_8)));
                    payload.position(payload.position() + length);
                }
                case TUPLE_BINARY -> {
                    byte[] value = new byte[payload.getInt()];
                    payload.get(value);
                    values.add(new TupleValue.Binary(value));
                }
                default -> throw unexpected(kind, "tuple column " + i);
            }
        }
        return new Tuple(values);
    }

    private static void expect(byte actual, byte expected, String where) {
        if (actual != expected) throw unexpected(actual, where);
    }

    private static IllegalArgumentException unexpected(byte kind, String where) {
        return new IllegalArgumentException("unexpected byte '" + (char) kind + "' (" + kind + ") in " + where);
    }

    private static Lsn lsn(ByteBuffer payload) {
        return new Lsn(payload.getLong());
    }

    private static long uint32(ByteBuffer payload) {
        return payload.getInt() & 0xFFFFFFFFL;
    }

    private static Instant time(ByteBuffer payload) {
        long micros = payload.getLong() + POSTGRES_EPOCH_MICROS;
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
    }

    private static String string(ByteBuffer payload) {
        int start = payload.position();
        int end = start;
        while (payload.get(end) != 0) end++;
        String value = new String(payload.array(), payload.arrayOffset() + start, end - start, StandardCharsets.UTF_8);
        payload.position(end + 1);
        return value;
    }
}
