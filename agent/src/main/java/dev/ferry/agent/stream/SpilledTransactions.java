package dev.ferry.agent.stream;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * In-progress source transactions that PostgreSQL 14+ streams before they commit (big ones, past
 * logical_decoding_work_mem), kept on disk until their STREAM COMMIT so the heap stays bounded whatever their size.
 * Each is a file of length-prefixed pgoutput messages. A rolled-back subtransaction is cut off the end of the file,
 * as PostgreSQL's own apply worker does: its changes, and any of its children's, are the last ones written.
 * Owned by the stream thread.
 */
final class SpilledTransactions implements AutoCloseable {
    private final Path directory;
    private final Map<Long, Spill> open = new HashMap<>();

    private static final class Spill {
        final Path file;
        final DataOutputStream out;
        /** Offset of each subtransaction's first change, in the order they first appeared. */
        final LinkedHashMap<Long, Long> firstOffset = new LinkedHashMap<>();
        long size;

        Spill(Path file) throws IOException {
            this.file = file;
            Files.deleteIfExists(file);
            // APPEND, so writes after a subtransaction's rollback land at the truncated end, not past it.
            this.out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND), 1 << 16));
        }
    }

    /** Clears spill files of an earlier run: the slot streams unfinished transactions again from their start. */
    SpilledTransactions(Path directory) {
        this.directory = directory;
        try {
            Files.createDirectories(directory);
            try (Stream<Path> old = Files.list(directory)) {
                for (Path file : old.filter(p -> p.getFileName().toString().startsWith("xid-")).toList()) Files.delete(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the spill directory " + directory, e);
        }
    }

    /** Appends one message of (sub)transaction {@code subXid} to top-level transaction {@code xid}. */
    void append(long xid, long subXid, byte[] payload) {
        try {
            Spill spill = open.get(xid);
            if (spill == null) {
                spill = new Spill(directory.resolve("xid-" + xid + ".bin"));
                open.put(xid, spill);
            }
            spill.firstOffset.putIfAbsent(subXid, spill.size);
            spill.out.writeInt(payload.length);
            spill.out.write(payload);
            spill.size += 4L + payload.length;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the in-progress transaction " + xid + " to " + directory + " (disk full?)", e);
        }
    }

    /** Rolls back a subtransaction (or, when {@code subXid == xid}, the whole transaction). */
    void abort(long xid, long subXid) {
        Spill spill = open.get(xid);
        if (spill == null) return;
        try {
            if (subXid == xid) {
                discard(xid);
                return;
            }
            Long offset = spill.firstOffset.get(subXid);
            if (offset == null) return;
            spill.out.flush();
            try (FileChannel channel = FileChannel.open(spill.file, StandardOpenOption.WRITE)) {
                channel.truncate(offset);
            }
            spill.size = offset;
            spill.firstOffset.entrySet().removeIf(e -> e.getValue() >= offset);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot roll back subtransaction " + subXid + " of " + xid + " in " + spill.file, e);
        }
    }

    /** Hands every message of a committed transaction, in order, to {@code consumer}, then deletes its file. */
    void replay(long xid, Consumer<byte[]> consumer) {
        Spill spill = open.remove(xid);
        if (spill == null) return;
        try {
            spill.out.close();
            try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(spill.file), 1 << 16))) {
                long read = 0;
                while (read < spill.size) {
                    int length;
                    try {
                        length = in.readInt();
                    } catch (EOFException end) {
                        break;
                    }
                    byte[] payload = in.readNBytes(length);
                    read += 4L + length;
                    consumer.accept(payload);
                }
            }
            Files.deleteIfExists(spill.file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the streamed transaction " + xid + " back from " + spill.file, e);
        }
    }

    /** Deletes a transaction's file: rolled back, or applied without it. */
    void discard(long xid) {
        Spill spill = open.remove(xid);
        if (spill == null) return;
        try {
            spill.out.close();
            Files.deleteIfExists(spill.file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the spill file " + spill.file, e);
        }
    }

    boolean isEmpty() {
        return open.isEmpty();
    }

    /** Bytes held on disk by unfinished transactions. */
    long bytes() {
        return open.values().stream().mapToLong(s -> s.size).sum();
    }

    @Override
    public void close() {
        for (Long xid : open.keySet().stream().sorted(Comparator.naturalOrder()).toList()) {
            try {
                discard(xid);
            } catch (UncheckedIOException ignored) {
                // best effort at shutdown; the next start clears the directory anyway
            }
        }
    }
}
