package dev.ferry.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.spi.ToolProvider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No two of the agent's packages import each other, directly or through others (docs/architecture.md, Packages): read
 * from the compiled classes by jdeps, so an import that closes a loop fails the build rather than waiting for a reader.
 */
@Timeout(60)
class PackageLoopsTest {
    private static final String AGENT = "dev.ferry.agent";
    private static final Path CLASSES = Path.of("target", "classes");
    /** The stages in the order data flows; apply, which the stream makes and drives, is kept apart below. */
    private static final List<String> STAGES = List.of("preflight", "schema", "snapshot", "stream", "cutover", "verify");

    @Test
    void noPackageLoop() {
        Map<String, Set<String>> imports = agentImports(CLASSES);
        assertTrue(imports.containsKey(AGENT + ".apply"), "jdeps read no agent classes: " + imports.keySet());
        List<String> loop = findLoop(imports);
        assertTrue(loop.isEmpty(), "these packages import each other: " + String.join(" -> ", loop));
        // Every package imports FerryException and ExitCode, so the top-level package must import none of them.
        assertEquals(Set.of(), imports.getOrDefault(AGENT, Set.of()));
    }

    @Test
    void noStageImportsALaterOne() {
        Map<String, Set<String>> imports = agentImports(CLASSES);
        List<String> backwards = new ArrayList<>();
        for (int i = 0; i < STAGES.size(); i++) {
            for (String later : STAGES.subList(i + 1, STAGES.size())) {
                if (imports.getOrDefault(AGENT + "." + STAGES.get(i), Set.of()).contains(AGENT + "." + later)) backwards.add(STAGES.get(i) + " -> " + later);
            }
        }
        for (String stage : STAGES) if (imports.getOrDefault(AGENT + ".apply", Set.of()).contains(AGENT + "." + stage)) backwards.add("apply -> " + stage);
        assertEquals(List.of(), backwards, "an earlier stage imports a later one");
    }

    /** Package -> the other agent packages its classes use, as jdeps finds them. */
    private static Map<String, Set<String>> agentImports(Path classes) {
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElseThrow(() -> new AssertionError("no jdeps in this JDK"));
        StringWriter out = new StringWriter();
        int exit = jdeps.run(new PrintWriter(out), new PrintWriter(out), "-verbose:package", "-filter:none", classes.toString());
        assertEquals(0, exit, out::toString);
        Map<String, Set<String>> imports = new TreeMap<>();
        for (String line : out.toString().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3 && f[1].equals("->") && isAgent(f[0]) && isAgent(f[2]) && !f[0].equals(f[2])) {
                imports.computeIfAbsent(f[0], p -> new TreeSet<>()).add(f[2]);
            }
        }
        return imports;
    }

    private static boolean isAgent(String pkg) {
        return pkg.equals(AGENT) || pkg.startsWith(AGENT + ".");
    }

    /** A path of imports that comes back to where it started, or empty. */
    private static List<String> findLoop(Map<String, Set<String>> imports) {
        Set<String> done = new TreeSet<>();
        for (String start : imports.keySet()) {
            List<String> path = new ArrayList<>();
            if (walk(start, imports, path, done)) return path;
        }
        return List.of();
    }

    private static boolean walk(String pkg, Map<String, Set<String>> imports, List<String> path, Set<String> done) {
        int at = path.indexOf(pkg);
        if (at >= 0) {
            path.subList(0, at).clear();
            path.add(pkg);
            return true;
        }
        if (done.contains(pkg)) return false;
        path.add(pkg);
        for (String next : imports.getOrDefault(pkg, Set.of())) if (walk(next, imports, path, done)) return true;
        path.remove(path.size() - 1);
        done.add(pkg);
        return false;
    }
}
