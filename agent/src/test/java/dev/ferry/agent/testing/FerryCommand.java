package dev.ferry.agent.testing;

import dev.ferry.agent.cli.Main;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs one `ferry ...` command line in-process and keeps what it printed, for tests of user-facing output. */
public record FerryCommand(int code, String out, String err) {
    public static FerryCommand run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FerryCommand(code, out.toString(), err.toString());
    }
}
