package dev.ferry.agent.schema;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IndexBuildMemoryTest {
    private static final long MB = 1L << 20;

    @Test
    void aBigIndexGetsWhatItsSortNeedsWhileTheBudgetLasts() {
        IndexBuildMemory memory = new IndexBuildMemory(1024 * MB, 64 * MB);
        long first = memory.take(100 * MB);
        long second = memory.take(100 * MB);
        assertEquals(400 * MB, first);
        assertEquals(400 * MB, second);
        assertEquals(224 * MB, memory.take(100 * MB), "the third build gets what is left of the budget");
        long fourth = memory.take(100 * MB);
        assertEquals(64 * MB, fourth, "an exhausted budget still gives the target's own setting");
        memory.release(first);
        memory.release(fourth);
        assertEquals(400 * MB, memory.take(100 * MB), "memory given back is handed out again");
    }

    @Test
    void aSmallIndexGetsTheTargetsOwnSettingAndNoMore() {
        IndexBuildMemory memory = new IndexBuildMemory(1024 * MB, 64 * MB);
        assertEquals(64 * MB, memory.take(8192));
        assertEquals(960 * MB, memory.take(10_000 * MB), "one build never takes memory already given to another");
    }

    @Test
    void anEvenShareStaysBetweenTheTargetsSettingAndTheCap() {
        assertEquals(256 * MB, new IndexBuildMemory(1024 * MB, 64 * MB).evenShare(4));
        assertEquals(64 * MB, new IndexBuildMemory(128 * MB, 64 * MB).evenShare(4));
        assertEquals(1536 * MB, new IndexBuildMemory(32768 * MB, 64 * MB).evenShare(4));
    }

    @Test
    void pgRestoreSessionsGetTheEvenShareThroughPgoptions() {
        String options = new IndexBuildMemory(1024 * MB, 64 * MB).pgRestoreEnvironment(4).get("PGOPTIONS");
        assertTrue(options.endsWith("-c maintenance_work_mem=262144kB"), options);
    }
}
