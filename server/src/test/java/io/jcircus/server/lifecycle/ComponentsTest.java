package io.jcircus.server.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ComponentsTest {
  private final List<String> log = new ArrayList<>();

  private LifeCycle component(String name, boolean failStart, long stopMs) {
    return LifeCycle.of(name, () -> {
      if (failStart) {
        throw new IOException(name + " cannot start");
      }
      log.add("start " + name);
    }, () -> {
      log.add("stop " + name);
      try {
        Thread.sleep(stopMs);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, Duration.ofMillis(200));
  }

  @Test
  void stopsInReverseOrderOfStarting() throws Exception {
    Components c = new Components();
    c.start(component("a", false, 0));
    c.start(component("b", false, 0));
    c.start(component("c", false, 0));
    assertThat(c.stopAll()).isEmpty();
    assertThat(log).containsExactly("start a", "start b", "start c", "stop c", "stop b", "stop a");
    assertThat(c.stopAll()).isEmpty(); // once
    assertThat(log).hasSize(6);
  }

  @Test
  void aFailedStartStopsWhatStartedBeforeIt() throws Exception {
    Components c = new Components();
    c.start(component("a", false, 0));
    c.start(component("b", false, 0));
    assertThatThrownBy(() -> c.start(component("c", true, 0))).hasMessage("c cannot start");
    assertThat(log).containsExactly("start a", "start b", "stop b", "stop a");
  }

  @Test
  void aStopThatHangsIsLeftBehindAndTheRestStillStop() throws Exception {
    Components c = new Components();
    c.start(component("a", false, 0));
    c.start(component("stuck", false, 60_000));
    c.start(component("c", false, 0));
    long t0 = System.nanoTime();
    assertThat(c.stopAll()).containsExactly("stuck");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    assertThat(log).containsExactly("start a", "start stuck", "start c", "stop c", "stop stuck", "stop a");
  }
}
