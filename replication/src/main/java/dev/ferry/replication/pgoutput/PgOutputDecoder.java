package dev.ferry.replication.pgoutput;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Turns one pgoutput payload (the data of one XLogData message) into a {@link PgOutputMessage}. Pure and
 * stateless: whether a payload lies inside a stream block is the caller's knowledge, passed to {@link #decode}.
 * Safe to share between threads.
 *
 * @see <a href="https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html">Logical Replication Message Formats</a>
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

    static final int RELATION_COLUMN_KEY = 1;
    static final int TRUNCATE_CASCADE = 1;
    static final int TRUNCATE_RESTART_IDENTITY = 2;
    static final int MESSAGE_TRANSACTIONAL = 1;

    private final int protocolVersion;
    private final boolean parallelStreaming;

    /**
     * @param protocolVersion   the {@code proto_version} the stream was started with, 1 to 4
     * @param parallelStreaming whether it was started with {@code streaming 'parallel'}: only then (and only with
     *                          protocol 4) does StreamAbort carry the abort LSN and time
     */
    public PgOutputDecoder(int protocolVersion, boolean parallelStreaming) {
        if (protocolVersion < 1 || protocolVersion > 4) {
            throw new IllegalArgumentException("unsupported pgoutput protocol version " + protocolVersion + ": expected 1 to 4");
        }
        this.protocolVersion = protocolVersion;
        this.parallelStreaming = parallelStreaming;
    }

    /**
     * Decodes one payload without moving {@code payload}'s position.
     *
     * @param insideStreamBlock whether a StreamStart arrived and its StreamStop has not: changes then carry the xid of
     *                          their (sub)transaction and are returned wrapped in {@link Streamed}
     * @throws IllegalArgumentException for an unknown message or tuple byte, or a truncated payload
     */
    public PgOutputMessage decode(ByteBuffer payload, boolean insideStreamBlock) {
        PayloadReader in = new PayloadReader(payload);
        byte kind = in.int8();
        try {
            PgOutputMessage message = decode(kind, in, insideStreamBlock);
            if (in.remaining() != 0) {
                throw new IllegalArgumentException(in.remaining() + " unread bytes after pgoutput message " + describe(kind));
            }
            return message;
        } catch (BufferUnderflowException e) {
            throw new IllegalArgumentException("truncated pgoutput message " + describe(kind) + " of " + payload.remaining() + " bytes", e);
        }
    }

    private PgOutputMessage decode(byte kind, PayloadReader in, boolean insideStreamBlock) {
        // Inside a stream block, changes and the messages describing them start with the (sub)transaction's xid.
        if (insideStreamBlock && carriesXidWhenStreamed(kind)) {
            long xid = in.xid();
            return new Streamed(xid, decodeChange(kind, in));
        }
        if (kind == BEGIN) return new Begin(in.lsn(), in.timestamp(), in.xid());
        if (kind == COMMIT) return new Commit(in.int8(), in.lsn(), in.lsn(), in.timestamp());
        if (kind == ORIGIN) return new Origin(in.lsn(), in.string());
        if (kind == STREAM_START) return new StreamStart(in.xid(), in.int8() == 1);
        if (kind == STREAM_STOP) return new StreamStop();
        if (kind == STREAM_COMMIT) return new StreamCommit(in.xid(), in.int8(), in.lsn(), in.lsn(), in.timestamp());
        if (kind == STREAM_ABORT) return streamAbort(in);
        if (kind == BEGIN_PREPARE) return new BeginPrepare(in.lsn(), in.lsn(), in.timestamp(), in.xid(), in.string());
        if (kind == PREPARE) return new Prepare(in.int8(), in.lsn(), in.lsn(), in.timestamp(), in.xid(), in.string());
        if (kind == COMMIT_PREPARED) return new CommitPrepared(in.int8(), in.lsn(), in.lsn(), in.timestamp(), in.xid(), in.string());
        if (kind == ROLLBACK_PREPARED) {
            return new RollbackPrepared(in.int8(), in.lsn(), in.lsn(), in.timestamp(), in.timestamp(), in.xid(), in.string());
        }
        if (kind == STREAM_PREPARE) return new StreamPrepare(in.int8(), in.lsn(), in.lsn(), in.timestamp(), in.xid(), in.string());
        return decodeChange(kind, in);
    }

    private static boolean carriesXidWhenStreamed(byte kind) {
        return kind == RELATION || kind == TYPE || kind == INSERT || kind == UPDATE || kind == DELETE
                || kind == TRUNCATE || kind == MESSAGE;
    }

    private PgOutputMessage decodeChange(byte kind, PayloadReader in) {
        if (kind == RELATION) return relation(in);
        if (kind == TYPE) return new Type(in.int32(), in.string(), in.string());
        if (kind == INSERT) return insert(in);
        if (kind == UPDATE) return update(in);
        if (kind == DELETE) return delete(in);
        if (kind == TRUNCATE) return truncate(in);
        if (kind == MESSAGE) return message(in);
        throw new IllegalArgumentException("unknown pgoutput message byte " + describe(kind) + " (protocol version " + protocolVersion + ")");
    }

    private StreamAbort streamAbort(PayloadReader in) {
        long xid = in.xid();
        long subXid = in.xid();
        if (protocolVersion >= 4 && parallelStreaming) {
            return new StreamAbort(xid, subXid, Optional.of(in.lsn()), Optional.of(in.timestamp()));
        }
        return new StreamAbort(xid, subXid, Optional.empty(), Optional.empty());
    }

    private static Relation relation(PayloadReader in) {
        int relationId = in.int32();
        String namespace = in.string();
        String name = in.string();
        char replicaIdentity = (char) in.int8();
        int count = in.int16();
        List<Relation.Column> columns = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            boolean key = (in.int8() & RELATION_COLUMN_KEY) != 0;
            columns.add(new Relation.Column(key, in.string(), in.int32(), in.int32()));
        }
        return new Relation(relationId, namespace, name, replicaIdentity, columns);
    }

    private static Update update(PayloadReader in) {
        int relationId = in.int32();
        byte marker = in.int8();
        Optional<Tuple> old = Optional.empty();
        if (marker == TUPLE_KEY || marker == TUPLE_OLD) {
            old = Optional.of(tuple(in));
            marker = in.int8();
        }
        if (marker != TUPLE_NEW) throw unexpectedTupleMarker(marker, "UPDATE", relationId);
        return new Update(relationId, old, tuple(in));
    }

    private static Delete delete(PayloadReader in) {
        int relationId = in.int32();
        byte marker = in.int8();
        if (marker != TUPLE_KEY && marker != TUPLE_OLD) throw unexpectedTupleMarker(marker, "DELETE", relationId);
        return new Delete(relationId, tuple(in));
    }

    private static Insert insert(PayloadReader in) {
        int relationId = in.int32();
        byte marker = in.int8();
        if (marker != TUPLE_NEW) throw unexpectedTupleMarker(marker, "INSERT", relationId);
        return new Insert(relationId, tuple(in));
    }

    private static Truncate truncate(PayloadReader in) {
        int count = in.int32();
        int options = in.int8();
        List<Integer> relationIds = new ArrayList<>(count);
        for (int i = 0; i < count; i++) relationIds.add(in.int32());
        return new Truncate(relationIds, (options & TRUNCATE_CASCADE) != 0, (options & TRUNCATE_RESTART_IDENTITY) != 0);
    }

    private static LogicalMessage message(PayloadReader in) {
        boolean transactional = (in.int8() & MESSAGE_TRANSACTIONAL) != 0;
        var lsn = in.lsn();
        String prefix = in.string();
        byte[] content = in.bytes(in.int32());
        return new LogicalMessage(transactional, lsn, prefix, content);
    }

    private static Tuple tuple(PayloadReader in) {
        int count = in.int16();
        TupleValue[] values = new TupleValue[count];
        for (int i = 0; i < count; i++) values[i] = value(in);
        // List.of copies the array once; Tuple's List.copyOf then keeps that immutable list as it is.
        return new Tuple(List.of(values));
    }

    private static TupleValue value(PayloadReader in) {
        byte kind = in.int8();
        // Every change carries a value per column: the field-less values are shared rather than made per column.
        if (kind == TUPLE_NULL) return TupleValue.NULL;
        if (kind == TUPLE_UNCHANGED_TOAST) return TupleValue.UNCHANGED_TOAST;
        if (kind == TUPLE_TEXT) return new TupleValue.Text(in.text(in.int32()));
        if (kind == TUPLE_BINARY) return new TupleValue.Binary(in.bytes(in.int32()));
        throw new IllegalArgumentException("unknown pgoutput tuple value byte " + describe(kind));
    }

    private static IllegalArgumentException unexpectedTupleMarker(byte marker, String change, int relationId) {
        return new IllegalArgumentException("unexpected tuple marker " + describe(marker) + " in " + change
                + " of relation " + Integer.toUnsignedString(relationId));
    }

    private static String describe(byte kind) {
        char c = (char) (kind & 0xFF);
        return (c >= 0x20 && c < 0x7F ? "'" + c + "' " : "") + String.format("(0x%02X)", kind & 0xFF);
    }
}
