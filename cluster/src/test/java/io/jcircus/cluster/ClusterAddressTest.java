package io.jcircus.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterAddressTest {
  @Test
  void parsesEnsemblesAndNames() {
    assertThat(ClusterAddress.parse("zk://h1:2181,h2:2181,h3:2181/shop"))
        .isEqualTo(new ClusterAddress("h1:2181,h2:2181,h3:2181", "shop"));
    assertThat(ClusterAddress.parse("zk://127.0.0.1:2181")).isEqualTo(new ClusterAddress("127.0.0.1:2181", "jcircus"));
    assertThat(ClusterAddress.parse("zk://[::1]:2181/a_b-c.d/").name()).isEqualTo("a_b-c.d");
    for (String bad : new String[] {"", "zk://", "zk://h1/shop", "http://h1:2181/x", "zk://h1:2181/a/b",
        "zk://h1:99999/x", "zk://h1:2181,/x"}) {
      assertThatThrownBy(() -> ClusterAddress.parse(bad)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("zk://");
    }
  }

  @Test
  void credentialsComeFromAFileOnlyItsOwnerReads(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("zk.auth");
    Files.writeString(f, "fleet:s3cret\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(() -> Credentials.read(f)).hasMessageContaining("chmod 600").hasMessageContaining(f.toString());
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    Credentials c = Credentials.read(f);
    assertThat(c.user()).isEqualTo("fleet");
    assertThat(c.digestId()).startsWith("fleet:").doesNotContain("s3cret");
    assertThat(c.toString()).doesNotContain("s3cret");
    Files.writeString(f, "no-colon\n");
    assertThatThrownBy(() -> Credentials.read(f)).hasMessageContaining("USER:PASSWORD");
  }
}
