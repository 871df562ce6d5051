package io.jcircus.server.config;

import jnr.posix.Group;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;
import jnr.posix.Passwd;

/** User and group lookups through jnr-posix; created on first use only (its binding costs seconds). */
final class PosixUsers implements ConfigLoader.UserLookup {
  static final PosixUsers INSTANCE = new PosixUsers();
  private POSIX posix;

  private synchronized POSIX posix() {
    if (posix == null) {
      posix = POSIXFactory.getNativePOSIX();
    }
    return posix;
  }

  @Override
  public User user(String nameOrId) {
    Passwd p;
    if (nameOrId.chars().allMatch(Character::isDigit)) {
      p = posix().getpwuid(Integer.parseInt(nameOrId));
      if (p == null) {
        int uid = Integer.parseInt(nameOrId);
        return new User(nameOrId, uid, uid, null);
      }
    } else {
      p = posix().getpwnam(nameOrId);
    }
    if (p == null) {
      return null;
    }
    return new User(p.getLoginName(), (int) p.getUID(), (int) p.getGID(), p.getHome());
  }

  @Override
  public int group(String nameOrId) {
    if (nameOrId.chars().allMatch(Character::isDigit)) {
      return Integer.parseInt(nameOrId);
    }
    Group g = posix().getgrnam(nameOrId);
    return g == null ? -1 : (int) g.getGID();
  }
}
