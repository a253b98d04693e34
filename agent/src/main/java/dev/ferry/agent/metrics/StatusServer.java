package dev.ferry.agent.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/** Serves /metrics (Prometheus text) and /status (JSON) on --metrics-port, on a daemon thread of its own. */
public final class StatusServer implements AutoCloseable {
    private final HttpServer server;

    public StatusServer(int port, MigrationMetrics metrics) {
        try {
            server = HttpServer.create(new InetSocketAddress(port), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on --metrics-port " + port, e);
        }
        server.createContext("/metrics", exchange -> respond(exchange, "text/plain; version=0.0.4", metrics::scrape));
        server.createContext("/status", exchange -> respond(exchange, "application/json", metrics::statusJson));
        server.start();
        LoggerFactory.getLogger("ferry").info("serving /metrics and /status on port {}", port);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange exchange, String type, Supplier<String> body) throws IOException {
        byte[] bytes = body.get().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
