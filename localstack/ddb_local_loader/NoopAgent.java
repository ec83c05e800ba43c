// LocalStack starts DynamoDB Local with -javaagent:ddb-local-loader-0.1.jar (a patch it would download).
// Offline we put this agent there instead: it loads and changes nothing.
package fairshare.ddblocal;

import java.lang.instrument.Instrumentation;

public final class NoopAgent {
    private NoopAgent() {
    }

    public static void premain(String args, Instrumentation instrumentation) {
    }

    public static void agentmain(String args, Instrumentation instrumentation) {
    }
}
