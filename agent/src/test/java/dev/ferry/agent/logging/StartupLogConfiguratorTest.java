package dev.ferry.agent.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import org.junit.jupiter.api.Test;

import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StartupLogConfiguratorTest {
    @Test
    void logbackFindsItWithoutAnyXml() {
        // Without it Logback falls back to DEBUG on stdout, which would mix library chatter into ferry's output.
        assertTrue(ServiceLoader.load(Configurator.class).stream().anyMatch(p -> p.type() == StartupLogConfigurator.class),
                "META-INF/services/ch.qos.logback.classic.spi.Configurator must name StartupLogConfigurator");
    }

    @Test
    void warningsAndErrorsGoToTheConsoleUntilTheRealSetup() {
        LoggerContext context = new LoggerContext();
        StartupLogConfigurator configurator = new StartupLogConfigurator();
        configurator.setContext(context);

        assertEquals(Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY, configurator.configure(context));
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        assertEquals(Level.WARN, root.getLevel());
        assertNotNull(root.getAppender("console"));
        assertTrue(root.getAppender("console").isStarted());
    }
}
