package io.jcircus.cli;

import io.jcircus.protocol.Json;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * circusctl: drives circusd over Circus's ZeroMQ protocol, one command per invocation or in an interactive
 * shell (no command given). Exit codes as the Python circusctl: 0 ok, 3 the daemon replied with an error,
 * 1 timeout or connection failure, 2 usage error.
 */
@Command(name = "circusctl", versionProvider = Circusctl.Version.class, mixinStandardHelpOptions = true,
    sortOptions = false, usageHelpAutoWidth = true,
    description = "Controls circusd. With no command: an interactive shell.",
    footer = {"", "Environment: CIRCUSCTL_ENDPOINT (default endpoint), CIRCUSCTL_CURVE_SERVER_KEY, CIRCUSCTL_CURVE_KEY.",
        "Exit codes: 0 ok, 3 error reply, 1 timeout or no daemon, 2 usage error."})
public final class Circusctl implements Callable<Integer> {
  static final int OK = 0;
  static final int TIMEOUT = 1;
  static final int USAGE = 2;
  static final int ERROR_REPLY = 3;

  @Option(names = "--endpoint", paramLabel = "ENDPOINT",
      description = "Control endpoint (default: $CIRCUSCTL_ENDPOINT or tcp://127.0.0.1:5555).")
  String endpoint;

  @Option(names = "--timeout", paramLabel = "SECONDS", description = "Reply timeout in seconds (default: 5).")
  double timeout = 5;

  @Option(names = "--cluster", paramLabel = "ZK",
      description = "Send the command to the fleet registered at zk://HOST:PORT,…/NAME (default: $CIRCUSCTL_CLUSTER),"
          + " each node over its own endpoint.")
  String cluster;

  @Option(names = "--node", paramLabel = "NAME", description = "With --cluster: only this node (repeatable).")
  List<String> nodes = new ArrayList<>();

  @Option(names = "--tag", paramLabel = "TAG", description = "With --cluster: only nodes with this tag (repeatable).")
  List<String> tags = new ArrayList<>();

  @Option(names = "--json", description = "Print the daemon's JSON reply.")
  boolean json;

  @Option(names = "--prettify", description = "With --json: indent and sort keys.")
  boolean prettify;

  @Mixin
  CurveOptions curveOptions;

  @Spec
  CommandSpec spec;

  /** The connection, shared by every command of one shell session (one DEALER, as circusctl does). */
  private ControlClient client;
  /** Set while the shell runs: completion asks the daemon for watcher names through it. */
  static volatile Circusctl session;

  public static void main(String[] args) throws Exception {
    // --cluster: ZooKeeper's and Curator's clients would print their connection attempts among the replies
    System.setProperty("org.slf4j.simpleLogger.log.org.apache.zookeeper", "off");
    System.setProperty("org.slf4j.simpleLogger.log.org.apache.curator", "off");
    if (Boolean.getBoolean("jcircus.cds.training")) {
      System.exit(CdsTraining.run());
    }
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Every command, in the order help lists them. */
  static final List<String> COMMANDS = List.of("add", "decr", "dstats", "get", "globaloptions", "incr", "kill",
      "list", "listen", "listsockets", "numprocesses", "numwatchers", "options", "quit", "reload", "reloadconfig",
      "restart", "rm", "set", "signal", "start", "stats", "status", "stop", "tail", "keygen", "completion",
      "singletons");

  static Object create(String name) {
    switch (name) {
      case "add": return new CtlCommands.Add();
      case "decr": return new CtlCommands.Decr();
      case "dstats": return new CtlCommands.Dstats();
      case "get": return new CtlCommands.Get();
      case "globaloptions": return new CtlCommands.GlobalOptions();
      case "incr": return new CtlCommands.Incr();
      case "kill": return new CtlCommands.Kill();
      case "list": return new CtlCommands.ListCmd();
      case "listen": return new CtlCommands.Listen();
      case "listsockets": return new CtlCommands.ListSockets();
      case "numprocesses": return new CtlCommands.NumProcesses();
      case "numwatchers": return new CtlCommands.NumWatchers();
      case "options": return new CtlCommands.Options();
      case "quit": return new CtlCommands.Quit();
      case "reload": return new CtlCommands.Reload();
      case "reloadconfig": return new CtlCommands.ReloadConfig();
      case "restart": return new CtlCommands.Restart();
      case "rm": return new CtlCommands.Rm();
      case "set": return new CtlCommands.Set();
      case "signal": return new CtlCommands.Signal();
      case "start": return new CtlCommands.Start();
      case "stats": return new CtlCommands.Stats();
      case "status": return new CtlCommands.Status();
      case "stop": return new CtlCommands.Stop();
      case "tail": return new CtlCommands.Tail();
      case "keygen": return new CtlCommands.Keygen();
      case "completion": return new CtlCommands.Completion();
      case "singletons": return new CtlCommands.Singletons();
      default: throw new IllegalArgumentException(name);
    }
  }

  /**
   * The command a one-shot invocation names, or null (help, shell, a typo). Only that command's picocli model
   * is then built: picocli (class files for Java 5, so outside any CDS archive) spends most of a one-shot
   * circusctl's start-up reflecting over annotations, and one command costs a twentieth of all of them.
   */
  static String commandIn(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--endpoint") || a.equals("--timeout") || a.equals("--curve-server-key") || a.equals("--curve-key")
          || a.equals("--cluster") || a.equals("--node") || a.equals("--tag")) {
        i++;
      } else if (!a.startsWith("-")) {
        return COMMANDS.contains(a) ? a : null;
      } else if (a.equals("--help") || a.equals("-h") || a.equals("--")) {
        return null;
      }
    }
    return null;
  }

  static final boolean TRACE = System.getenv("CIRCUSCTL_TRACE") != null;

  static void trace(String what) {
    if (TRACE) {
      System.err.println((System.nanoTime() - T0) / 1000 / 1000.0 + " ms " + what);
    }
  }

  static final long T0 = System.nanoTime();

  static int run(String[] args, PrintWriter out, PrintWriter err) {
    trace("main");
    Circusctl top = new Circusctl();
    CommandLine cl = commandLine(top, commandIn(args), out, err);
    trace("model built");
    int rc = cl.execute(args);
    trace("executed");
    top.close();
    trace("closed");
    return rc;
  }

  /** The model with every command ({@code only == null}) or just one. */
  static CommandLine commandLine(Circusctl top, String only, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(top);
    for (String name : only == null ? COMMANDS : List.of(only)) {
      cl.addSubcommand(name, create(name));
    }
    if (cl.getSubcommands().containsKey("add")) {
      // add NAME CMD…: everything after the name is the command, -flags included (circusctl 0.19 rejects them).
      cl.getSubcommands().get("add").setStopAtPositional(true);
    }
    cl.setOut(out);
    cl.setErr(err);
    cl.setExecutionExceptionHandler((ex, line, parsed) -> {
      if (ex instanceof ControlClient.TimeoutException) {
        line.getErr().println(ex.getMessage());
        return TIMEOUT;
      }
      if (ex instanceof IOException || ex instanceof IllegalArgumentException) {
        line.getErr().println("circusctl: " + ex.getMessage());
        return TIMEOUT;
      }
      throw ex;
    });
    return cl;
  }

  @Override
  public Integer call() throws Exception {
    return new Shell(this).run();
  }

  String endpoint() {
    if (endpoint != null) {
      return endpoint;
    }
    String env = System.getenv("CIRCUSCTL_ENDPOINT");
    return env != null && !env.isEmpty() ? env : "tcp://127.0.0.1:5555";
  }

  ControlClient client() throws IOException {
    if (client == null) {
      client = new ControlClient(endpoint(), Math.max(1, (long) (timeout * 1000)), curveOptions.resolve());
    }
    return client;
  }

  CurveOptions.Keys curve() throws IOException {
    return curveOptions.resolve();
  }

  void close() {
    if (client != null) {
      client.close();
      client = null;
    }
  }

  /** --cluster, or $CIRCUSCTL_CLUSTER; null: one daemon. */
  String cluster() {
    if (cluster != null) {
      return cluster;
    }
    String env = System.getenv("CIRCUSCTL_CLUSTER");
    return env != null && !env.isEmpty() && endpoint == null ? env : null;
  }

  /** The fleet's selected nodes (--node, --tag). */
  List<ClusterFanOut.Node> clusterNodes() throws IOException {
    return ClusterFanOut.select(cluster(), nodes, tags, Math.max(1000, (long) (timeout * 1000)));
  }

  /** Sends one command and prints its reply; the exit code follows the reply's status. */
  int execute(CommandSpec cmd, String command, Map<String, Object> props,
      java.util.function.Function<Map<String, Object>, String> render) throws Exception {
    trace("parsed");
    if (cluster() != null) {
      return ClusterFanOut.run(clusterNodes(), command, props, Math.max(1, (long) (timeout * 1000)), curve(), json,
          render, cmd.commandLine().getOut(), cmd.commandLine().getErr());
    }
    ControlClient c = client();
    trace("client");
    Map<String, Object> reply = c.call(command, props);
    trace("reply");
    PrintWriter out = cmd.commandLine().getOut();
    boolean error = "error".equals(reply.get("status"));
    if (json) {
      out.println(prettify ? Json.pretty(reply) : Json.write(reply));
      return error ? ERROR_REPLY : OK;
    }
    if (error) {
      cmd.commandLine().getErr().println("error: " + reply.get("reason"));
      return ERROR_REPLY;
    }
    String text = render.apply(reply);
    if (text != null && !text.isEmpty()) {
      out.println(text);
    }
    out.flush();
    return OK;
  }

  /** The names the daemon has now, for completion; empty when it cannot be asked quickly. */
  static List<String> watcherNames() {
    Circusctl s = session;
    if (s == null) {
      return List.of();
    }
    try {
      Map<String, Object> r = s.client().call("list", new LinkedHashMap<>());
      if (r.get("watchers") instanceof List<?> l) {
        List<String> names = new ArrayList<>();
        l.forEach(o -> names.add(String.valueOf(o)));
        return names;
      }
    } catch (Exception e) {
      // completion must never fail the shell
    }
    return List.of();
  }

  /** Version from the jar manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Circusctl.class.getPackage().getImplementationVersion();
      return new String[] {"circusctl " + (v == null ? "dev" : v) + " (jcircus)"};
    }
  }
}
