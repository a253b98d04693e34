package dev.ferry.agent.apply;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The table TargetWriter coalesces and cuts batches by: every key found again after growing, colliding and emptying. */
@Timeout(10)
class KeyPositionsTest {
    @Test
    void findsEveryKeyItHoldsAndNoOtherAcrossGrowthCollisionsAndEmptying() {
        KeyPositions positions = new KeyPositions();
        for (int round = 0; round < 3; round++) {
            int keys = 1_000 * (round + 1);
            for (int i = 0; i < keys; i++) assertTrue(positions.add("k" + i, i), "new key k" + i);
            assertFalse(positions.add("k7", 99), "a key already there");
            assertEquals(7, positions.get("k7"), "add leaves the recorded position");
            positions.put("k7", 70);
            assertEquals(70, positions.get("k7"), "put replaces it");
            for (int i = 0; i < keys; i++) if (i != 7) assertEquals(i, positions.get("k" + i));
            assertEquals(-1, positions.get("k" + keys));
            // "Aa" and "BB" have one hash code: probing must tell them apart.
            positions.put("Aa", 1);
            positions.put("BB", 2);
            assertEquals(1, positions.get("Aa"));
            assertEquals(2, positions.get("BB"));
            positions.clear();
            for (int i = 0; i < keys; i++) assertEquals(-1, positions.get("k" + i), "emptied");
            for (String key : new String[] {"Aa", "BB"}) assertEquals(-1, positions.get(key), "emptied");
        }
    }

    @Test
    void emptiedItHoldsNoneOfItsKeys() {
        KeyPositions positions = new KeyPositions();
        // Keys in slots of their own: a key left behind by emptying is found again.
        for (String key : new String[] {"a", "b", "c"}) positions.put(key, 1);
        positions.clear();
        for (String key : new String[] {"a", "b", "c"}) assertEquals(-1, positions.get(key), key);
        assertTrue(positions.add("c", 2));
        assertEquals(2, positions.get("c"));
    }
}
