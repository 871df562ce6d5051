package io.jcircus.server.arbiter;

import static org.assertj.core.api.Assertions.assertThat;

import io.jcircus.server.config.WatcherConfig;
import org.junit.jupiter.api.Test;

/** The crash-loop backoff without a loop: young deaths double the wait, a long life resets it, max_retry ends it. */
class BackoffTest {
  private static WatcherConfig cfg(int maxRetry) {
    WatcherConfig.Builder b = new WatcherConfig.Builder();
    b.name = "w";
    b.cmd = "x";
    b.backoffInitial = 0.1;
    b.backoffFactor = 2;
    b.backoffMax = 0.5;
    b.backoffMinUptime = 1;
    b.maxRetry = maxRetry;
    return b.build();
  }

  @Test
  void youngDeathsDoubleTheWaitUpToTheMaximumAndALongLifeResetsIt() {
    WatcherConfig c = cfg(5);
    Backoff b = new Backoff();
    assertThat(b.exited(0.2, c)).isEqualTo(100_000_000L);
    assertThat(b.exited(0.2, c)).isEqualTo(200_000_000L);
    assertThat(b.exited(0.2, c)).isEqualTo(400_000_000L);
    assertThat(b.exited(0.2, c)).isEqualTo(500_000_000L);
    assertThat(b.remaining(System.nanoTime())).isPositive();
    assertThat(b.exited(1.5, c)).isZero();
    assertThat(b.youngDeaths()).isZero();
    assertThat(b.remaining(System.nanoTime())).isNotPositive();
  }

  @Test
  void failedSpawnsCountAgainstMaxRetryUntilOneSucceeds() {
    WatcherConfig c = cfg(2);
    Backoff b = new Backoff();
    b.spawnFailed(c);
    b.spawnFailed(c);
    assertThat(b.exhausted(c)).isFalse();
    b.spawnFailed(c);
    assertThat(b.exhausted(c)).isTrue();
    b.spawned();
    assertThat(b.exhausted(c)).isFalse();
    assertThat(new Backoff().exhausted(cfg(-1))).isFalse();
    b.reset();
    assertThat(b.youngDeaths()).isZero();
  }
}
