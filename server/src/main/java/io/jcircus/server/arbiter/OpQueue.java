package io.jcircus.server.arbiter;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.util.function.Supplier;

/**
 * The operations of one watcher, one after the other: each runs once the previous one's future is done.
 * Operations on different watchers run concurrently (no global lock, unlike Circus). A preempting operation
 * ({@code stop}, {@code rm}) runs at once and cancels every operation queued before it. Loop thread only.
 */
final class OpQueue {
  private final EventExecutor loop;
  private final String what;
  private Future<?> last;
  /** Bumped by {@link #preempt}: operations queued under an older epoch are cancelled instead of run. */
  private long epoch;

  OpQueue(EventExecutor loop, String what) {
    this.loop = loop;
    this.what = what;
  }

  /** Moves on at each preemption: an operation that captured an older value must not undo the preempting one. */
  long epoch() {
    return epoch;
  }

  /** Runs {@code op} once every earlier operation has finished. */
  <T> Future<T> serialize(Supplier<Future<T>> op) {
    return enqueue(op, false);
  }

  /**
   * Runs {@code op} now, ahead of every queued operation, which is cancelled (its future fails). An operation
   * already under way is ended by {@code op} itself. Operations queued after this one run after it, as usual.
   */
  <T> Future<T> preempt(Supplier<Future<T>> op) {
    return enqueue(op, true);
  }

  private <T> Future<T> enqueue(Supplier<Future<T>> op, boolean now) {
    Promise<T> p = loop.newPromise();
    if (now) {
      epoch++;
    }
    long mine = epoch;
    Runnable run = () -> {
      if (mine != epoch) {
        p.tryFailure(new IOException("cancelled: " + what + " was stopped before this ran"));
        return;
      }
      Future<T> f;
      try {
        f = op.get();
      } catch (RuntimeException e) {
        p.tryFailure(e);
        return;
      }
      f.addListener(x -> {
        if (x.isSuccess()) {
          p.trySuccess(f.getNow());
        } else {
          p.tryFailure(x.cause());
        }
      });
    };
    Future<?> prev = last;
    last = p;
    if (now || prev == null || prev.isDone()) {
      run.run();
    } else {
      prev.addListener(x -> run.run());
    }
    return p;
  }
}
