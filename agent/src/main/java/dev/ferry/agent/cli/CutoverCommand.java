package dev.ferry.agent.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** `ferry cutover` (being built). */
@Command(name = "cutover", mixinStandardHelpOptions = true)
public final class CutoverCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 1;
    }
}
