package io.jcircus.server.arbiter;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;

/**
 * An operation of a watcher that may be under way (a resize, a reload): whoever asks while it is joins it, and it
 * completes once, for all of them. Loop thread only.
 */
final class Pending {
  private Promise<Void> promise;

  /** The operation under way, begun now if none was. */
  Future<Void> join(EventExecutor loop) {
    if (promise == null) {
      promise = loop.newPromise();
    }
    return promise;
  }

  boolean active() {
    return promise != null;
  }

  void succeed() {
    Promise<Void> p = promise;
    promise = null;
    if (p != null) {
      p.trySuccess(null);
    }
  }

  void fail(String why) {
    Promise<Void> p = promise;
    promise = null;
    if (p != null) {
      p.tryFailure(new IOException(why));
    }
  }
}
