package io.jcircus.server.internal.posix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SignalsTest {
  @Test
  void parsesCircusSignalSpellings() {
    assertThat(Signals.parse("15")).isEqualTo(15);
    assertThat(Signals.parse("term")).isEqualTo(15);
    assertThat(Signals.parse("SIGKILL")).isEqualTo(9);
    assertThat(Signals.parse("SIGRTMIN+2")).isEqualTo(36);
    assertThat(Signals.parse("USR1")).isEqualTo(10);
    assertThatThrownBy(() -> Signals.parse("NOPE")).hasMessageContaining("invalid signal: NOPE");
    assertThatThrownBy(() -> Signals.parse("99")).hasMessageContaining("out of range");
    assertThat(Signals.name(36)).isEqualTo("SIGRTMIN+2");
  }
}
