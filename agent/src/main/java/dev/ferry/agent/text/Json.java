package dev.ferry.agent.text;

/**
 * The one piece of JSON ferry writes by hand: a string literal. The documents themselves (`ferry preflight --json`,
 * `ferry status --json`) are built by their owners; this is below both so neither stage imports the other.
 */
public final class Json {
    private Json() {}

    /** {@code text} as a JSON string literal, quotes included. */
    public static String string(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char ch : text.toCharArray()) {
            switch (ch) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (ch < 0x20) out.append(String.format("\\u%04x", (int) ch));
                    else out.append(ch);
                }
            }
        }
        return out.append('"').toString();
    }
}
