package dev.ferry.agent.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** `ferry run` (being built). */
@Command(name = "run", mixinStandardHelpOptions = true)
public final class RunCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 1;
    }
}
