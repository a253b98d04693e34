package dev.ferry.agent.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** `ferry demo` (being built). */
@Command(name = "demo", mixinStandardHelpOptions = true)
public final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 1;
    }
}
