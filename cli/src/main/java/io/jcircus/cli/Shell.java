package io.jcircus.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.DefaultParser;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine;

/**
 * The interactive circusctl: prompt {@code (circusctl) }, every command of the one-shot form, one connection
 * for the whole session, history kept across sessions ({@code ~/.circusctl_history}, or
 * {@code $CIRCUSCTL_HISTORY}), tab completion of commands, options, watcher names (asked of the daemon),
 * signal names and match modes. {@code listen} runs until Ctrl-C and returns to the prompt; Ctrl-D or
 * {@code exit} leaves. Like Circus's shell it greets with the version and the status of every watcher.
 */
final class Shell {
  private final Circusctl top;
  /** The global options the shell was started with, put in front of every line (picocli resets them per parse). */
  private final List<String> globalArgs;

  Shell(Circusctl top) {
    this.top = top;
    this.globalArgs = top.spec.commandLine().getParseResult().originalArgs();
  }

  /**
   * The process's terminal. The exec provider (stty) keeps native code out of the CLI and works on every
   * Linux terminal; JLine's own choice is the fallback.
   */
  static Terminal openTerminal() throws java.io.IOException {
    try {
      return TerminalBuilder.builder().system(true).provider("exec").build();
    } catch (Exception e) {
      return TerminalBuilder.builder().system(true).build();
    }
  }

  int run() throws Exception {
    try (Terminal t = openTerminal()) {
      PrintWriter out = t.writer();
      CommandLine cl = Circusctl.commandLine(top, null, out, out);
      Circusctl.session = top;
      LineReader reader = LineReaderBuilder.builder()
          .appName("circusctl")
          .terminal(t)
          .completer(new ShellCompleter(cl))
          .parser(new DefaultParser())
          .variable(LineReader.HISTORY_FILE, historyFile())
          .build();
      t.handle(Terminal.Signal.INT, s -> EventListener.interrupted = true);
      out.println(new Circusctl.Version().getVersion()[0]);
      execute(cl, List.of("status"));
      while (true) {
        String line;
        try {
          line = reader.readLine("(circusctl) ");
        } catch (UserInterruptException e) {
          continue;
        } catch (EndOfFileException e) {
          out.println();
          break;
        }
        List<String> words = reader.getParsedLine() == null ? List.of() : reader.getParsedLine().words();
        words = words.stream().filter(w -> !w.isEmpty()).toList();
        if (words.isEmpty()) {
          continue;
        }
        String first = words.get(0);
        if (first.equals("exit") || first.equals("EOF")) {
          break;
        }
        if (first.equals("help") || first.equals("?")) {
          if (words.size() > 1 && cl.getSubcommands().containsKey(words.get(1))) {
            cl.getSubcommands().get(words.get(1)).usage(out);
          } else {
            out.println("Commands (help COMMAND for details; exit or Ctrl-D leaves):");
            out.println("  " + String.join(" ", cl.getSubcommands().keySet()));
          }
          continue;
        }
        if (!cl.getSubcommands().containsKey(first)) {
          out.println("*** Unknown syntax: " + line);
          continue;
        }
        execute(cl, words);
        out.flush();
      }
      reader.getHistory().save();
    } finally {
      Circusctl.session = null;
    }
    return Circusctl.OK;
  }

  private void execute(CommandLine cl, List<String> words) {
    List<String> args = new ArrayList<>(globalArgs);
    args.addAll(words);
    cl.execute(args.toArray(new String[0]));
  }

  private static Path historyFile() {
    String env = System.getenv("CIRCUSCTL_HISTORY");
    if (env != null && !env.isEmpty()) {
      return Path.of(env);
    }
    return CurveOptions.home().resolve(".circusctl_history");
  }
}
