package io.jcircus.server.command;

import io.jcircus.protocol.Errno;

/** A command failure with Circus's errno ({@link Errno}). */
public class CommandError extends Exception {
  public static final int INVALID_JSON = Errno.INVALID_JSON;
  public static final int UNKNOWN_COMMAND = Errno.UNKNOWN_COMMAND;
  public static final int MESSAGE_ERROR = Errno.MESSAGE_ERROR;
  public static final int OS_ERROR = Errno.OS_ERROR;
  public static final int COMMAND_ERROR = Errno.COMMAND_ERROR;
  public static final int BAD_MSG_DATA_ERROR = Errno.BAD_MSG_DATA_ERROR;

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
