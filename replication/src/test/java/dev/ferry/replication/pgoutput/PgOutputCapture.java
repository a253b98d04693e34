package dev.ferry.replication.pgoutput;

import dev.ferry.replication.Lsn;
import dev.ferry.replication.slot.ReplicationConnection;
import dev.ferry.replication.slot.ReplicationSlots;
import dev.ferry.replication.slot.SlotName;
import dev.ferry.replication.stream.ChangeStream;
import dev.ferry.replication.stream.StreamOptions;
import dev.ferry.replication.stream.WalMessage;
import dev.ferry.testing.TestPostgres;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Captures the raw pgoutput messages of a scripted workload from a real server, for the decoder tests. Run by hand
 * when the workload changes: {@code java -cp <test classpath> dev.ferry.replication.pgoutput.PgOutputCapture 13 15 17}.
 * Each file holds length-prefixed payloads in stream order.
 */
public final class PgOutputCapture {
    static final String SETUP = """
            CREATE TYPE public.mood AS ENUM ('sad', 'happy');
            CREATE TABLE public.items (id int PRIMARY KEY, name text, big text, amount numeric, feeling public.mood);
            ALTER TABLE public.items ALTER COLUMN big SET STORAGE EXTERNAL;
            CREATE TABLE public.dupes (a int, b text);
            ALTER TABLE public.dupes REPLICA IDENTITY FULL;
            CREATE TABLE "Odd ""Name"" Ü" ("Key Col" int PRIMARY KEY);
            CREATE TABLE public.parent (id int PRIMARY KEY);
            CREATE TABLE public.child (id int PRIMARY KEY, parent_id int REFERENCES public.parent (id));
            CREATE PUBLICATION capture FOR ALL TABLES;
            """;

    static final List<String> WORKLOAD = List.of(
            "INSERT INTO public.items VALUES (1, 'one', repeat(md5('a'), 300), 1.5, 'happy'), (2, NULL, NULL, 'NaN', NULL)",
            "UPDATE public.items SET name = 'uno' WHERE id = 1",
            "UPDATE public.items SET id = 10 WHERE id = 2",
            "DELETE FROM public.items WHERE id = 10",
            "INSERT INTO public.dupes VALUES (1, 'x'), (1, 'x')",
            "UPDATE public.dupes SET b = 'y' WHERE ctid = (SELECT ctid FROM public.dupes LIMIT 1)",
            "DELETE FROM public.dupes WHERE b = 'y'",
            "INSERT INTO \"Odd \"\"Name\"\" Ü\" VALUES (7)",
            "INSERT INTO public.parent VALUES (1)",
            "TRUNCATE public.parent, public.child RESTART IDENTITY CASCADE",
            "SELECT pg_logical_emit_message(true, 'ferry-test', 'hello')",
            "BEGIN; INSERT INTO public.items SELECT g, 'bulk', repeat('z', 100), g, 'sad' FROM generate_series(100, 2100) g;"
                    + " SAVEPOINT s; INSERT INTO public.items SELECT g, 'undone', repeat('u', 100), g, 'sad' FROM generate_series(5000, 7000) g;"
                    + " ROLLBACK TO s; INSERT INTO public.items VALUES (3, 'after', NULL, 3, 'happy'); COMMIT;");

    public static void main(String[] args) throws Exception {
        Path out = Path.of("replication/src/test/resources/pgoutput");
        for (String arg : args) capture(Integer.parseInt(arg), out.resolve("pg" + arg + ".bin"));
    }

    static void capture(int major, Path file) throws Exception {
        try (TestPostgres pg = TestPostgres.start(major, Map.of("logical_decoding_work_mem", "64kB"))) {
            pg.execute("postgres", SETUP);
            SlotName slot = new SlotName("capture");
            Lsn start;
            try (Connection c = pg.connect()) {
                var rs = c.createStatement().executeQuery("SELECT lsn::text FROM pg_create_logical_replication_slot('capture', 'pgoutput')");
                rs.next();
                start = Lsn.parse(rs.getString(1));
            }
            for (String sql : WORKLOAD) pg.execute("postgres", sql);
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream data = new DataOutputStream(bytes);
                 Connection replication = ReplicationConnection.open(pg.jdbcUrl(), new java.util.Properties());
                 ChangeStream stream = ChangeStream.start(replication, slot, start, StreamOptions.forServer(major, List.of("capture")), Duration.ofSeconds(10))) {
                int idle = 0;
                while (idle < 10) {
                    Optional<WalMessage> message = stream.poll(Duration.ofMillis(200));
                    if (message.isEmpty()) {
                        idle++;
                        continue;
                    }
                    idle = 0;
                    data.writeInt(message.get().payload().length);
                    data.write(message.get().payload());
                }
            }
            Files.createDirectories(file.getParent());
            Files.write(file, bytes.toByteArray());
            System.out.println("captured " + bytes.size() + " bytes from PostgreSQL " + major + " into " + file);
        }
    }
}
