package dev.ferry.agent.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** `ferry status` (being built). */
@Command(name = "status", mixinStandardHelpOptions = true)
public final class StatusCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 1;
    }
}
