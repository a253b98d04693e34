package dev.ferry.agent.cli;

import dev.ferry.agent.ExitCode;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns SIGTERM and SIGINT (`docker stop`, Ctrl-C, systemd) into a graceful stop: the JVM's shutdown hook interrupts
 * the command's thread, which stops the way an interruption always stops it (the copy and the stream give up their
 * work in progress, nothing half-applied is committed) and reports exit code 5; the hook then ends the process with
 * that code, not the JVM's 143. A later `ferry run` resumes. If the command does not finish within {@link #GRACE}
 * the process ends anyway with 5: ferry's state on the target is consistent after any stop, even a kill -9.
 * <p>Threading: {@link #install} and {@link #finished} are called by the command's thread; the hook runs on its own.
 */
final class GracefulStop {
    /** Less than `docker stop`'s default 10 s before SIGKILL, so the stop is logged and the exit code is ours. */
    static final Duration GRACE = Duration.ofSeconds(8);

    private final Thread command;
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile int exitCode = ExitCode.INTERRUPTED;

    private GracefulStop(Thread command) {
        this.command = command;
    }

    /** Watches for a signal while the calling thread runs its command. */
    static GracefulStop install() {
        GracefulStop stop = new GracefulStop(Thread.currentThread());
        Runtime.getRuntime().addShutdownHook(new Thread(stop::onShutdown, "ferry-graceful-stop"));
        return stop;
    }

    /** The command returned this code; call before System.exit. */
    void finished(int code) {
        exitCode = code;
        finished.countDown();
    }

    private void onShutdown() {
        // Shutdown begun by the command's own System.exit: nothing to stop, and other hooks must run to the end.
        if (finished.getCount() == 0) return;
        LoggerFactory.getLogger("ferry").warn("stopping on a signal: finishing the work in progress (at most {} s)", GRACE.toSeconds());
        command.interrupt();
        try {
            finished.await(GRACE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // System.exit cannot set the status once shutdown has begun (it would block); halt is the only way to.
        Runtime.getRuntime().halt(finished.getCount() == 0 ? exitCode : ExitCode.INTERRUPTED);
    }
}
