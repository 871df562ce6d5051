package io.jcircus.cli;

import java.util.List;
import org.jline.reader.Candidate;
import org.jline.reader.Completer;
import org.jline.reader.LineReader;
import org.jline.reader.ParsedLine;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Tab completion for the shell, read off the picocli model at the moment Tab is pressed: command names in
 * the first word; then option names, an option's values, or the candidates of the positional parameter at
 * the cursor. Candidates are iterated each time, so watcher names are asked of the daemon then and a
 * watcher added a second ago completes.
 */
final class ShellCompleter implements Completer {
  private final CommandLine top;

  ShellCompleter(CommandLine top) {
    this.top = top;
  }

  @Override
  public void complete(LineReader reader, ParsedLine line, List<Candidate> candidates) {
    List<String> words = line.words();
    int index = line.wordIndex();
    if (index == 0) {
      for (String name : top.getSubcommands().keySet()) {
        candidates.add(new Candidate(name));
      }
      candidates.add(new Candidate("exit"));
      candidates.add(new Candidate("help"));
      return;
    }
    CommandLine sub = top.getSubcommands().get(words.get(0));
    if (sub == null) {
      return;
    }
    CommandSpec spec = sub.getCommandSpec();
    OptionSpec previous = spec.findOption(words.get(index - 1));
    if (previous != null && previous.arity().max() > 0 && !words.get(index - 1).contains("=")) {
      add(previous, candidates);
      return;
    }
    if (line.word().startsWith("-")) {
      for (OptionSpec o : spec.options()) {
        for (String n : o.names()) {
          if (n.startsWith("--")) {
            candidates.add(new Candidate(n));
          }
        }
      }
      return;
    }
    int positional = 0;
    for (int i = 1; i < index; i++) {
      String w = words.get(i);
      OptionSpec o = spec.findOption(w);
      if (o != null) {
        if (o.arity().max() > 0 && !w.contains("=")) {
          i++;
        }
      } else if (!w.startsWith("-")) {
        positional++;
      }
    }
    for (PositionalParamSpec p : spec.positionalParameters()) {
      if (p.index().contains(positional)) {
        add(p, candidates);
        return;
      }
    }
  }

  private static void add(ArgSpec arg, List<Candidate> candidates) {
    Iterable<String> values = arg.completionCandidates();
    if (values != null) {
      for (String v : values) {
        candidates.add(new Candidate(v));
      }
    }
  }
}
