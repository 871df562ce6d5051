package io.jcircus.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * Every circusctl command: Circus's syntax (CIRCUS-REFERENCE §3), the request the Python circusctl would send,
 * and the text it would print. Where circusctl 0.19 is broken the command does what its help promises: rm sends
 * --nostop/--waiting, set converts env and hooks, kill sends numbers, add accepts a command with -flags.
 */
final class CtlCommands {
  private CtlCommands() { }

  /** Watcher names for completion, asked of the daemon when completion runs. */
  static final class WatcherNames implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return Circusctl.watcherNames().iterator();
    }
  }

  /** Signal names for completion. */
  static final class SignalNames implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return Values.signalNames().iterator();
    }
  }

  /** Match modes for completion. */
  static final class MatchModes implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return List.of("simple", "glob", "regex").iterator();
    }
  }

  abstract static class Base implements Callable<Integer> {
    @ParentCommand
    Circusctl top;

    @Spec
    CommandSpec spec;

    abstract Map<String, Object> props();

    /** What circusctl prints for a successful reply. */
    String render(Map<String, Object> reply) {
      return "ok";
    }

    @Override
    public Integer call() throws Exception {
      return top.execute(spec, spec.name(), props(), this::render);
    }
  }

  static Map<String, Object> map(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      if (kv[i + 1] != null) {
        m.put((String) kv[i], kv[i + 1]);
      }
    }
    return m;
  }

  static String joined(Object list) {
    List<String> parts = new ArrayList<>();
    if (list instanceof List<?> l) {
      l.forEach(o -> parts.add(String.valueOf(o)));
    }
    return String.join(",", parts);
  }

  /** {@code key: value} lines, sorted, as circusctl prints options, get and globaloptions. */
  static String keyValues(Object options) {
    StringBuilder sb = new StringBuilder();
    if (options instanceof Map<?, ?> m) {
      for (Map.Entry<String, Object> e : Values.sorted(m).entrySet()) {
        if (sb.length() > 0) {
          sb.append('\n');
        }
        sb.append(e.getKey()).append(": ").append(Values.str(e.getValue()));
      }
    }
    return sb.toString();
  }

  /** One process line of stats/dstats: {@code pid  cmdline user nice rss vms cpu mem ctime}, children indented. */
  static String processLine(Object o) {
    if (!(o instanceof Map<?, ?> info)) {
      return String.valueOf(o); // "No such process (stopped?)"
    }
    StringBuilder sb = new StringBuilder();
    sb.append(one(info, ""));
    if (info.get("children") instanceof List<?> kids) {
      for (Object k : kids) {
        if (k instanceof Map<?, ?> c) {
          sb.append('\n').append(one(c, "   "));
        }
      }
    }
    return sb.toString();
  }

  private static String one(Map<?, ?> i, String indent) {
    return indent + Values.str(i.get("pid")) + "  " + Values.str(i.get("cmdline")) + " " + Values.str(i.get("username"))
        + " " + Values.str(i.get("nice")) + " " + Values.str(i.get("mem_info1")) + " " + Values.str(i.get("mem_info2"))
        + " " + Values.str(i.get("cpu")) + " " + Values.str(i.get("mem")) + " " + Values.str(i.get("ctime"));
  }

  /** pid-keyed map, sorted by pid number. */
  static String processes(Object infos) {
    StringBuilder sb = new StringBuilder();
    if (infos instanceof Map<?, ?> m) {
      TreeMap<Long, Object> byPid = new TreeMap<>();
      m.forEach((k, v) -> {
        try {
          byPid.put(Long.parseLong(String.valueOf(k)), v);
        } catch (NumberFormatException e) {
          byPid.put(-1L, v);
        }
      });
      for (Map.Entry<Long, Object> e : byPid.entrySet()) {
        sb.append('\n').append(e.getKey()).append(": ").append(processLine(e.getValue()));
      }
    }
    return sb.toString();
  }

  // ------------------------------------------------------------------ commands

  /** A command whose only argument is an optional watcher name (list, numprocesses, status). */
  abstract static class OptionalName extends Base {
    @Parameters(arity = "0..1", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;

    @Override
    Map<String, Object> props() {
      return map("name", name);
    }
  }

  @Command(name = "add", description = "Add a watcher (stopped unless --start).")
  static final class Add extends Base {
    @Option(names = "--start", description = "Start the watcher once added.")
    boolean start;
    @Option(names = "--waiting", description = "Reply once the processes run.")
    boolean waiting;
    @Option(names = {"-o", "--option"}, paramLabel = "KEY=VALUE", description = "A watcher option, as for set.")
    List<String> options = new ArrayList<>();
    @Parameters(index = "0", paramLabel = "NAME", description = "Watcher name.")
    String name;
    @Parameters(index = "1..*", arity = "1..*", paramLabel = "CMD", description = "Command line (flags allowed).")
    List<String> cmd;

    @Override
    Map<String, Object> props() {
      Map<String, Object> opts = new LinkedHashMap<>();
      for (String o : options) {
        int eq = o.indexOf('=');
        if (eq <= 0) {
          throw new ParameterException(spec.commandLine(), "--option expects KEY=VALUE, got '" + o + "'");
        }
        opts.put(o.substring(0, eq), Values.convert(spec, o.substring(0, eq), o.substring(eq + 1)));
      }
      return map("name", name, "cmd", Values.commandLine(cmd), "options", opts.isEmpty() ? null : opts,
          "start", start ? true : null, "waiting", waiting ? true : null);
    }
  }

  @Command(name = "decr", description = "Decrease a watcher's number of processes.")
  static final class Decr extends Resize {
  }

  @Command(name = "incr", description = "Increase a watcher's number of processes.")
  static final class Incr extends Resize {
  }

  abstract static class Resize extends Base {
    @Parameters(index = "0", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;
    @Parameters(index = "1", arity = "0..1", paramLabel = "NB", description = "How many (default 1).")
    Integer nb;
    @Option(names = "--waiting", description = "Reply with the new number once done.")
    boolean waiting;

    @Override
    Map<String, Object> props() {
      return map("name", name, "nb", nb, "waiting", waiting);
    }

    @Override
    String render(Map<String, Object> r) {
      if (Boolean.TRUE.equals(r.get("singleton"))) {
        return "This watcher is a Singleton - not changing the number of processes";
      }
      return r.containsKey("numprocesses") ? Values.str(r.get("numprocesses")) : "ok";
    }
  }

  @Command(name = "dstats", description = "circusd's own process statistics.")
  static final class Dstats extends Base {
    @Override
    Map<String, Object> props() {
      return map();
    }

    @Override
    String render(Map<String, Object> r) {
      return "Main Process:\n" + processLine(r.get("info"));
    }
  }

  @Command(name = "get", description = "Get watcher option values.")
  static final class Get extends Base {
    @Parameters(index = "0", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;
    @Parameters(index = "1..*", arity = "1..*", paramLabel = "KEY")
    List<String> keys;

    @Override
    Map<String, Object> props() {
      return map("name", name, "keys", keys);
    }

    @Override
    String render(Map<String, Object> r) {
      return keyValues(r.get("options"));
    }
  }

  @Command(name = "globaloptions", description = "circusd's global options.")
  static final class GlobalOptions extends Base {
    @Parameters(arity = "0..1", paramLabel = "OPTION")
    String option;

    @Override
    Map<String, Object> props() {
      return map("option", option);
    }

    @Override
    String render(Map<String, Object> r) {
      return keyValues(r.get("options"));
    }
  }

  @Command(name = "kill", description = "Kill a watcher's processes (or one): stop signal, then SIGKILL.")
  static final class Kill extends Base {
    @Parameters(index = "0", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;
    @Parameters(index = "1", arity = "0..1", paramLabel = "PID")
    Long pid;
    @Option(names = "--signum", paramLabel = "SIG", completionCandidates = SignalNames.class)
    String signum;
    @Option(names = {"--graceful_timeout", "--graceful-timeout"}, paramLabel = "SECONDS")
    Double gracefulTimeout;
    @Option(names = "--waiting")
    boolean waiting;

    @Override
    Map<String, Object> props() {
      return map("name", name, "pid", pid, "signum", signum, "graceful_timeout", gracefulTimeout,
          "waiting", waiting ? true : null);
    }
  }

  @Command(name = "list", description = "Watcher names, or the pids of one watcher.")
  static final class ListCmd extends OptionalName {
    @Override
    String render(Map<String, Object> r) {
      return joined(r.containsKey("watchers") ? r.get("watchers") : r.get("pids"));
    }
  }

  @Command(name = "listen", description = "Print events as they happen (Ctrl-C stops).")
  static final class Listen implements Callable<Integer> {
    @ParentCommand
    Circusctl top;
    @Spec
    CommandSpec spec;
    @Option(names = "--pubsub", paramLabel = "ENDPOINT",
        description = "Events endpoint (default: asked of the daemon; else --endpoint, as circusctl does).")
    String pubsub;
    @Parameters(arity = "0..*", paramLabel = "TOPIC", description = "Topic prefixes (default: all).")
    List<String> topics = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
      return new EventListener(top, spec).listen(pubsub, topics);
    }
  }

  @Command(name = "tail", description = "Recent output of a watcher's processes; --follow streams new lines.")
  static final class Tail implements Callable<Integer> {
    @ParentCommand
    Circusctl top;
    @Spec
    CommandSpec spec;
    @Parameters(index = "0", paramLabel = "WATCHER", completionCandidates = WatcherNames.class)
    String name;
    @Option(names = "--pid", paramLabel = "PID", description = "Only this process.")
    Integer pid;
    @Option(names = "--stdout", description = "Only stdout.")
    boolean stdout;
    @Option(names = "--stderr", description = "Only stderr.")
    boolean stderr;
    @Option(names = {"-n", "--lines"}, paramLabel = "N", description = "Recent lines to print first (default 10).")
    int lines = 10;
    @Option(names = {"-f", "--follow"}, description = "Keep printing new lines (Ctrl-C stops).")
    boolean follow;
    @Option(names = "--raw", description = "The lines alone, without 'PID | ' ('PID ! ' for stderr).")
    boolean raw;
    @Option(names = "--no-local", description = "With --follow: read the output endpoint even on circusd's machine"
        + " (by default a follower there reads circusd's ring file).")
    boolean noLocal;

    @Override
    public Integer call() throws Exception {
      if (stdout && stderr) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--stdout and --stderr exclude each other");
      }
      return new OutputTail(top, spec.commandLine().getOut(), spec.commandLine().getErr(), name, pid,
          stdout ? "stdout" : stderr ? "stderr" : null, raw, !noLocal).run(lines, follow);
    }
  }

  @Command(name = "listsockets", description = "The sockets circusd manages.")
  static final class ListSockets extends Base {
    @Override
    Map<String, Object> props() {
      return map();
    }

    @Override
    String render(Map<String, Object> r) {
      StringBuilder sb = new StringBuilder();
      if (r.get("sockets") instanceof List<?> l) {
        for (Object o : l) {
          if (o instanceof Map<?, ?> s) {
            String at = s.containsKey("path") ? String.valueOf(s.get("path")) : s.get("host") + ":" + s.get("port");
            if (sb.length() > 0) {
              sb.append('\n');
            }
            sb.append(s.get("fd")).append(":socket '").append(s.get("name")).append("' at ").append(at);
          }
        }
      }
      return sb.toString();
    }
  }

  @Command(name = "numprocesses", description = "Number of processes (of one watcher, or all).")
  static final class NumProcesses extends OptionalName {
    @Override
    String render(Map<String, Object> r) {
      return Values.str(r.get("numprocesses"));
    }
  }

  @Command(name = "numwatchers", description = "Number of watchers.")
  static final class NumWatchers extends Base {
    @Override
    Map<String, Object> props() {
      return map();
    }

    @Override
    String render(Map<String, Object> r) {
      return Values.str(r.get("numwatchers"));
    }
  }

  @Command(name = "options", description = "Every option of a watcher.")
  static final class Options extends Base {
    @Parameters(index = "0", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;

    @Override
    Map<String, Object> props() {
      return map("name", name);
    }

    @Override
    String render(Map<String, Object> r) {
      return keyValues(r.get("options"));
    }
  }

  @Command(name = "quit", description = "Stop every watcher and circusd.")
  static final class Quit extends Base {
    @Option(names = "--waiting")
    boolean waiting;

    @Override
    Map<String, Object> props() {
      return map("waiting", waiting);
    }
  }

  @Command(name = "reload", description = "Reload a watcher, or all (graceful unless --terminate).")
  static final class Reload extends Base {
    @Parameters(arity = "0..1", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;
    @Option(names = "--terminate", description = "Stop then start instead of a graceful reload.")
    boolean terminate;
    @Option(names = "--waiting")
    boolean waiting;
    @Option(names = "--sequential", description = "One process at a time (a rolling reload).")
    boolean sequential;
    @Option(names = "--fleet", description = "With --cluster: one node at a time, each back to full strength and"
        + " ready before the next; stops at the first failure.")
    boolean fleet;
    @Option(names = "--max-unavailable", paramLabel = "N", defaultValue = "1",
        description = "With --fleet: how many nodes reload at once (default: 1).")
    int maxUnavailable;

    @Override
    Map<String, Object> props() {
      return map("name", name, "graceful", !terminate, "waiting", waiting, "sequential", sequential);
    }

    @Override
    public Integer call() throws Exception {
      if (!fleet) {
        return super.call();
      }
      if (top.cluster() == null) {
        throw new ParameterException(spec.commandLine(), "--fleet needs --cluster");
      }
      if (maxUnavailable < 1) {
        throw new ParameterException(spec.commandLine(), "--max-unavailable: expected 1 or more, got " + maxUnavailable);
      }
      return ClusterFanOut.fleetReload(top.clusterNodes(), name, sequential, maxUnavailable,
          Math.max(1, (long) (top.timeout * 1000)), top.curve(), spec.commandLine().getOut(),
          spec.commandLine().getErr());
    }
  }

  @Command(name = "singletons", description = "With --cluster: each cluster singleton, the node running it, and the"
      + " nodes standing by.")
  static final class Singletons implements Callable<Integer> {
    @ParentCommand
    Circusctl top;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      if (top.cluster() == null) {
        throw new ParameterException(spec.commandLine(), "singletons needs --cluster (or $CIRCUSCTL_CLUSTER)");
      }
      Map<String, List<String>> all = ClusterFanOut.singletons(top.cluster(), Math.max(1000, (long) (top.timeout * 1000)));
      for (Map.Entry<String, List<String>> e : all.entrySet()) {
        List<String> in = e.getValue();
        spec.commandLine().getOut().println(e.getKey() + ": " + (in.isEmpty() ? "(nobody)" : in.get(0))
            + (in.size() > 1 ? " (standing by: " + String.join(", ", in.subList(1, in.size())) + ")" : ""));
      }
      spec.commandLine().getOut().flush();
      return Circusctl.OK;
    }
  }

  @Command(name = "reloadconfig", description = "Re-read the configuration and apply the differences.")
  static final class ReloadConfig extends Base {
    @Option(names = "--waiting")
    boolean waiting;

    @Override
    Map<String, Object> props() {
      return map("waiting", waiting);
    }
  }

  abstract static class Lifecycle extends Base {
    @Parameters(arity = "0..1", paramLabel = "NAME", completionCandidates = WatcherNames.class,
        description = "Watcher name or pattern (default: all).")
    String name;
    @Option(names = "--waiting", description = "Reply once done.")
    boolean waiting;
    @Option(names = "--match", paramLabel = "MODE", defaultValue = "glob", completionCandidates = MatchModes.class,
        description = "simple, glob (default) or regex.")
    String match;

    @Override
    Map<String, Object> props() {
      if (!List.of("simple", "glob", "regex").contains(match)) {
        throw new ParameterException(spec.commandLine(), "--match: expected simple, glob or regex, got '" + match + "'");
      }
      return map("name", name, "waiting", waiting, "match", match);
    }
  }

  @Command(name = "restart", description = "Restart a watcher, or all.")
  static final class Restart extends Lifecycle {
  }

  @Command(name = "start", description = "Start a watcher, or all.")
  static final class Start extends Lifecycle {
  }

  @Command(name = "stop", description = "Stop a watcher, or all.")
  static final class Stop extends Lifecycle {
  }

  @Command(name = "rm", description = "Remove a watcher.")
  static final class Rm extends Base {
    @Parameters(index = "0", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;
    @Option(names = "--waiting")
    boolean waiting;
    @Option(names = "--nostop", description = "Leave its processes running.")
    boolean nostop;

    @Override
    Map<String, Object> props() {
      return map("name", name, "waiting", waiting ? true : null, "nostop", nostop ? true : null);
    }
  }

  @Command(name = "set", description = "Set watcher options: set NAME KEY VALUE [KEY VALUE…].")
  static final class Set extends Base {
    @Parameters(index = "0", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;
    @Parameters(index = "1..*", arity = "2..*", paramLabel = "KEY VALUE")
    List<String> pairs;
    @Option(names = "--waiting")
    boolean waiting;

    @Override
    Map<String, Object> props() {
      if (pairs.size() % 2 != 0) {
        throw new ParameterException(spec.commandLine(), "set: every KEY needs a VALUE (got " + pairs + ")");
      }
      Map<String, Object> opts = new LinkedHashMap<>();
      for (int i = 0; i < pairs.size(); i += 2) {
        opts.put(pairs.get(i), Values.convert(spec, pairs.get(i), pairs.get(i + 1)));
      }
      return map("name", name, "waiting", waiting ? true : null, "options", opts);
    }
  }

  @Command(name = "signal", description = "Send a signal: signal NAME [PID] [--children] [--recursive] SIGNUM.")
  static final class Signal extends Base {
    @Parameters(index = "0", paramLabel = "NAME", completionCandidates = WatcherNames.class)
    String name;
    @Parameters(index = "1..2", arity = "1..2", paramLabel = "[PID] SIGNUM", completionCandidates = SignalNames.class)
    List<String> rest;
    @Option(names = "--children", description = "Only to the processes' children.")
    boolean children;
    @Option(names = "--recursive", description = "To the processes and all their descendants.")
    boolean recursive;
    @Option(names = "--childpid", paramLabel = "PID", description = "Only to this child of PID.")
    Long childpid;

    @Override
    Map<String, Object> props() {
      Long pid = null;
      String sig = rest.get(rest.size() - 1);
      if (rest.size() == 2) {
        try {
          pid = Long.parseLong(rest.get(0));
        } catch (NumberFormatException e) {
          throw new ParameterException(spec.commandLine(), "signal: PID '" + rest.get(0) + "' is not a number");
        }
      }
      return map("name", name, "children", children, "recursive", recursive, "signum", sig, "pid", pid,
          "childpid", childpid);
    }
  }

  @Command(name = "stats", description = "Process statistics (all, one watcher, or one process).")
  static final class Stats extends Base {
    @Option(names = "--extended", description = "Include the extended_stats hook's data.")
    boolean extended;
    @Parameters(index = "0", arity = "0..1", paramLabel = "WATCHER", completionCandidates = WatcherNames.class)
    String name;
    @Parameters(index = "1", arity = "0..1", paramLabel = "PID")
    Long pid;

    @Override
    Map<String, Object> props() {
      return map("name", name, "process", pid, "extended", extended);
    }

    @Override
    String render(Map<String, Object> r) {
      if (r.containsKey("process")) {
        return processLine(r.get("info"));
      }
      if (r.containsKey("name")) {
        return r.get("name") + ":" + processes(r.get("info"));
      }
      StringBuilder sb = new StringBuilder();
      if (r.get("infos") instanceof Map<?, ?> all) {
        for (Map.Entry<String, Object> e : Values.sorted(all).entrySet()) {
          if (sb.length() > 0) {
            sb.append('\n');
          }
          sb.append(e.getKey()).append(':').append(processes(e.getValue()));
        }
      }
      return sb.toString();
    }
  }

  @Command(name = "status", description = "State of one watcher, or of all.")
  static final class Status extends OptionalName {
    @Override
    String render(Map<String, Object> r) {
      if (r.get("statuses") instanceof Map<?, ?> m) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Object> e : Values.sorted(m).entrySet()) {
          if (sb.length() > 0) {
            sb.append('\n');
          }
          sb.append(e.getKey()).append(": ").append(e.getValue());
        }
        return sb.toString();
      }
      return String.valueOf(r.get("status"));
    }
  }

  @Command(name = "keygen", description = "Write a CURVE key pair: NAME.key (public) and NAME.key_secret, mode 0600.")
  static final class Keygen implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    @Parameters(index = "0", paramLabel = "NAME", description = "e.g. server, or a client's name.")
    String name;
    @Option(names = "--dir", paramLabel = "DIR", description = "Where (default: ~/.config/jcircus/curve).")
    Path dir;
    @Option(names = "--force", description = "Replace existing files.")
    boolean force;

    @Override
    public Integer call() throws Exception {
      if (!name.matches("[A-Za-z0-9._@-]+")) {
        throw new ParameterException(spec.commandLine(), "keygen: NAME may hold letters, digits and ._@- only");
      }
      Path[] files = CurveOptions.generate(dir != null ? dir : CurveOptions.defaultDir(), name, force);
      spec.commandLine().getOut().println("public key: " + files[0]);
      spec.commandLine().getOut().println("secret key: " + files[1]);
      return 0;
    }
  }

  @Command(name = "completion", description = "Print a completion script: bash or zsh (e.g. source <(circusctl completion bash)).")
  static final class Completion implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    @Parameters(index = "0", paramLabel = "SHELL", description = "bash or zsh")
    String shell;

    @Override
    public Integer call() throws Exception {
      if (!shell.equals("bash") && !shell.equals("zsh")) {
        throw new ParameterException(spec.commandLine(), "completion: expected bash or zsh, got '" + shell + "'");
      }
      // zsh: a bashcompinit preamble, then the same bash function
      for (String part : shell.equals("zsh") ? List.of("zsh", "bash") : List.of("bash")) {
        try (var in = CtlCommands.class.getResourceAsStream("circusctl-completion." + part)) {
          spec.commandLine().getOut().print(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
        }
      }
      spec.commandLine().getOut().flush();
      return 0;
    }
  }
}
