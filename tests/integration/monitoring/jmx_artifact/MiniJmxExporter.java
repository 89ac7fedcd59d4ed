// A test stand-in for jmx_prometheus_httpserver.jar (the real jar is not available here).
// Same command line: java -jar <jar> [host:]<port> <config.yml>; refuses a config without
// hostPort; serves the JVM metrics the original's JVM dashboard reads, from this JVM's own
// MXBeans, in the Prometheus text format on /metrics.
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

public final class MiniJmxExporter {
    private MiniJmxExporter() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) throw new IllegalArgumentException("usage: [host:]<port> <config.yml>");
        String listen = args[0];
        int colon = listen.lastIndexOf(':');
        String host = colon > 0 ? listen.substring(0, colon) : "0.0.0.0";
        int port = Integer.parseInt(colon >= 0 ? listen.substring(colon + 1) : listen);
        String config = Files.readString(Path.of(args[1]));
        if (!config.contains("hostPort:")) throw new IllegalArgumentException("no hostPort in " + args[1]);
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/metrics", exchange -> {
            byte[] body = render().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    private static String value(long v) {
        return v < 0 ? "NaN" : Long.toString(v);
    }

    private static void memory(StringBuilder out, String area, MemoryUsage usage) {
        out.append("jvm_memory_used_bytes{area=\"").append(area).append("\"} ").append(value(usage.getUsed())).append('\n');
        out.append("jvm_memory_committed_bytes{area=\"").append(area).append("\"} ").append(value(usage.getCommitted())).append('\n');
        out.append("jvm_memory_max_bytes{area=\"").append(area).append("\"} ").append(value(usage.getMax())).append('\n');
    }

    private static String render() {
        StringBuilder out = new StringBuilder();
        var memoryBean = ManagementFactory.getMemoryMXBean();
        memory(out, "heap", memoryBean.getHeapMemoryUsage());
        memory(out, "nonheap", memoryBean.getNonHeapMemoryUsage());
        long gcMillis = 0, gcCount = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcMillis += Math.max(0, gc.getCollectionTime());
            gcCount += Math.max(0, gc.getCollectionCount());
        }
        out.append("jvm_gc_pause_seconds_sum ").append(gcMillis / 1000.0).append('\n');
        out.append("jvm_gc_pause_seconds_count ").append(gcCount).append('\n');
        var threads = ManagementFactory.getThreadMXBean();
        out.append("jvm_threads_live_threads ").append(threads.getThreadCount()).append('\n');
        out.append("jvm_threads_peak_threads ").append(threads.getPeakThreadCount()).append('\n');
        out.append("jvm_threads_daemon_threads ").append(threads.getDaemonThreadCount()).append('\n');
        var classes = ManagementFactory.getClassLoadingMXBean();
        out.append("jvm_classes_loaded_classes ").append(classes.getLoadedClassCount()).append('\n');
        out.append("jvm_classes_unloaded_classes_total ").append(classes.getUnloadedClassCount()).append('\n');
        return out.toString();
    }
}
