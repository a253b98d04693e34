package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Raw pgoutput payloads as a server sent them, stored for decoder tests: each record is the XLogData start LSN
 * (int64), the payload length (int32) and the payload bytes.
 */
record CapturedPayloads(List<Payload> payloads) {
    record Payload(Lsn walStart, byte[] bytes) {
        ByteBuffer buffer() { return ByteBuffer.wrap(bytes).asReadOnlyBuffer(); }
    }

    void write(OutputStream out) throws IOException {
        DataOutputStream data = new DataOutputStream(out);
        for (Payload p : payloads) {
            data.writeLong(p.walStart().value());
            data.writeInt(p.bytes().length);
            data.write(p.bytes());
        }
        data.flush();
    }

    static CapturedPayloads read(InputStream in) throws IOException {
        DataInputStream data = new DataInputStream(in);
        List<Payload> payloads = new ArrayList<>();
        while (true) {
            long walStart;
            try {
                walStart = data.readLong();
            } catch (EOFException end) {
                return new CapturedPayloads(payloads);
            }
            byte[] bytes = new byte[data.readInt()];
            data.readFully(bytes);
            payloads.add(new Payload(new Lsn(walStart), bytes));
        }
    }
}
