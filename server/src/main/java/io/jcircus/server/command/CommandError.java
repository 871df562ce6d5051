package io.jcircus.server.command;

/** A command failure with Circus's errno (commands/errors.py): 1 json, 2 unknown command, 3 message, 4 OS, 5 command, 6 bad data. */
public class CommandError extends Exception {
  public static final int INVALID_JSON = 1;
  public static final int UNKNOWN_COMMAND = 2;
  public static final int MESSAGE_ERROR = 3;
  public static final int OS_ERROR = 4;
  public static final int COMMAND_ERROR = 5;
  public static final int BAD_MSG_DATA_ERROR = 6;

  private final int errno;

  public CommandError(int errno, String reason) {
    super(reason);
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }

  public static CommandError message(String reason) {
    return new CommandError(MESSAGE_ERROR, reason);
  }
}
