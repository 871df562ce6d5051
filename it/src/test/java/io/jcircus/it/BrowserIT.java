package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The console page in a real browser (Debian's chromium, headless, through chromium-driver) against a real
 * circusd with real children. Screenshots go to it/target/screenshots/.
 */
class BrowserIT extends ItBase {
  private static final Path BROWSER = Daemon.HOME.resolve("it/src/test/resources/browser");

  /** Chromium's profile: under target/, so even a killed test JVM leaves nothing in /tmp; removed after each quit. */
  private static final Path PROFILE = Daemon.HOME.resolve("it/target/chromium-profile-" + ProcessHandle.current().pid());

  private static void quit(WebDriver b) throws java.io.IOException {
    b.quit();
    if (Files.exists(PROFILE)) {
      try (var files = Files.walk(PROFILE)) {
        for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(f);
        }
      }
    }
  }

  private static WebDriver browser() {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/chromium")) && Files.isExecutable(Path.of("/usr/bin/chromedriver")),
        "chromium and chromium-driver are not installed (.ci/run installs them)");
    ChromeOptions o = new ChromeOptions();
    o.setBinary(BROWSER.resolve("chromium").toString());
    o.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1280,800", "--user-data-dir=" + PROFILE);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(new File(BROWSER.resolve("chromedriver").toString())).usingAnyFreePort().build();
    return new ChromeDriver(service, o);
  }

  private static void screenshot(WebDriver d, String name) throws Exception {
    Path dir = Daemon.HOME.resolve("it/target/screenshots");
    Files.createDirectories(dir);
    File f = ((TakesScreenshot) d).getScreenshotAs(OutputType.FILE);
    Files.copy(f.toPath(), dir.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
  }

  private static String processes(WebDriver d, String watcher) {
    List<org.openqa.selenium.WebElement> cells = d.findElements(
        By.cssSelector("tr[data-watcher='" + watcher + "'] td.processes"));
    return cells.isEmpty() ? "" : cells.get(0).getText();
  }

  private static String circusctl(Daemon d, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(Daemon.HOME.resolve("bin/circusctl").toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("CIRCUSCTL_ENDPOINT", d.endpoint());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    assertThat(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  @Test
  void theOverviewFollowsTheDaemonAndItsControlsDriveIt() throws Exception {
    Daemon d = start("[circus]\nstats_endpoint = tcp://127.0.0.1:" + freePort() + "\n"
        + "[watcher:web]\ncmd = sleep 3600\nnumprocesses = 2\n[watcher:worker]\ncmd = sleep 3601\n");
    await(Duration.ofSeconds(30), "3 processes", () -> d.children().size() == 3);
    try (Httpd httpd = Httpd.start(d.endpoint())) {
      WebDriver b = browser();
      try {
        b.get(httpd.base + "/");
        WebDriverWait wait = new WebDriverWait(b, Duration.ofSeconds(10), Duration.ofMillis(50));
        wait.ignoring(StaleElementReferenceException.class);
        wait.until(x -> processes(x, "web").equals("2"));
        assertThat(b.findElement(By.cssSelector("tr[data-watcher='web'] td.state")).getText()).isEqualTo("active");
        assertThat(b.findElements(By.cssSelector("tr.process"))).hasSize(3);
        wait.until(ExpectedConditions.attributeContains(By.id("daemon"), "class", "up"));

        // a change made elsewhere (circusctl) shows within 2 s, without a reload
        circusctl(d, "incr", "web");
        long t0 = System.nanoTime();
        new WebDriverWait(b, Duration.ofSeconds(2), Duration.ofMillis(20)).ignoring(StaleElementReferenceException.class)
            .until(x -> processes(x, "web").equals("3"));
        System.out.println("PHASE incr shown after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        wait.until(x -> !x.findElements(By.cssSelector("#events li")).isEmpty());
        // figures from the stats stream: each process's RSS, and a chart per watcher
        wait.until(x -> x.findElements(By.cssSelector("tr.process td:nth-child(5)")).stream()
            .allMatch(td -> td.getText().endsWith("iB")));
        wait.until(x -> x.findElements(By.cssSelector("#charts canvas")).size() >= 2);
        screenshot(b, "overview");
        // a phone's width: nothing wider than the screen, every control still on it
        b.manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        wait.until(x -> ((Number) ((org.openqa.selenium.JavascriptExecutor) x).executeScript(
            "return document.documentElement.scrollWidth - window.innerWidth")).intValue() <= 0);
        screenshot(b, "phone");
        b.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 800));

        // stop asks first; once confirmed, the page and the daemon agree
        b.findElement(By.cssSelector("tr[data-watcher='web'] button[data-action='stop']")).click();
        wait.until(ExpectedConditions.alertIsPresent()).accept();
        wait.until(x -> x.findElement(By.cssSelector("tr[data-watcher='web'] td.state")).getText().equals("stopped"));
        assertThat(circusctl(d, "status", "web")).isEqualTo("stopped");
        assertThat(b.findElement(By.id("reply")).getText()).contains("stop").contains("\"status\": \"ok\"");
        screenshot(b, "stopped");

        // add a watcher from the page, then remove it (asked first)
        b.findElement(By.id("add-name")).sendKeys("extra");
        b.findElement(By.id("add-cmd")).sendKeys("sleep 3602");
        b.findElement(By.cssSelector("#add-form button[type=submit]")).click();
        wait.until(x -> processes(x, "extra").equals("1"));
        assertThat(circusctl(d, "status", "extra")).isEqualTo("active");
        b.findElement(By.cssSelector("tr[data-watcher='extra'] button[data-action='remove']")).click();
        wait.until(ExpectedConditions.alertIsPresent()).accept();
        wait.until(x -> x.findElements(By.cssSelector("tr[data-watcher='extra']")).isEmpty());
        assertThat(circusctl(d, "list")).doesNotContain("extra");
      } finally {
        quit(b);
      }
    }
  }

  @Test
  void oneConsoleShowsAFleetItsSocketsAndCircusdAndADaemonThatGoesAway() throws Exception {
    Daemon a = start("[circus]\nstats_endpoint = tcp://127.0.0.1:" + freePort() + "\n"
        + "[socket:web]\nhost = 127.0.0.1\nport = 0\n[watcher:alpha]\ncmd = sleep 3600\nnumprocesses = 2\n");
    Daemon b = startAs("b.ini", "circusd running", "[circus]\nstats_endpoint = tcp://127.0.0.1:" + freePort() + "\n"
        + "[watcher:beta]\ncmd = sleep 3601\n");
    await(Duration.ofSeconds(30), "3 processes", () -> a.children().size() == 2 && b.children().size() == 1);
    try (Httpd httpd = Httpd.launch("--endpoint", "web-1=" + a.endpoint(), "--endpoint", "web-2=" + b.endpoint())) {
      WebDriver br = browser();
      try {
        br.get(httpd.base + "/");
        WebDriverWait wait = new WebDriverWait(br, Duration.ofSeconds(10), Duration.ofMillis(50));
        wait.ignoring(StaleElementReferenceException.class);
        // the fleet: both daemons with their health; the first on show
        wait.until(x -> x.findElements(By.cssSelector("#daemons tr[data-daemon] td.daemon-up")).size() == 2);
        assertThat(br.findElement(By.cssSelector("#daemons tr[data-daemon='web-1'] td:nth-child(5)")).getText())
            .isEqualTo("2");
        wait.until(x -> processes(x, "alpha").equals("2"));
        assertThat(br.findElements(By.cssSelector("tr[data-watcher='beta']"))).isEmpty();
        // its socket with the accept queue and its recent maximum, and circusd's own figures
        wait.until(x -> !x.findElements(By.cssSelector("#sockets tbody tr")).isEmpty());
        String socket = br.findElement(By.cssSelector("#sockets tbody tr")).getText();
        assertThat(socket).startsWith("web 127.0.0.1:").matches("(?s).* \\d+ \\d+ \\d+ \\d+$");
        wait.until(x -> x.findElement(By.id("circusd")).getText().matches("circusd pid \\d+ · CPU .* · RSS .*"));
        wait.until(x -> x.findElements(By.cssSelector("#charts canvas")).size() >= 1);
        screenshot(br, "fleet");

        // the other daemon, chosen in the fleet table: its watchers replace the first one's
        br.findElement(By.cssSelector("#daemons tr[data-daemon='web-2'] button")).click();
        wait.until(x -> processes(x, "beta").equals("1"));
        assertThat(br.findElements(By.cssSelector("tr[data-watcher='alpha']"))).isEmpty();
        assertThat(br.getCurrentUrl()).endsWith("#daemon=web-2");
        wait.until(ExpectedConditions.attributeContains(By.id("daemon"), "class", "up"));

        // it goes away: unreachable in the table and the badge, the other still up
        b.close();
        new WebDriverWait(br, Duration.ofSeconds(6), Duration.ofMillis(50)).ignoring(StaleElementReferenceException.class)
            .until(x -> x.findElement(By.cssSelector("#daemons tr[data-daemon='web-2'] td.state")).getText()
                .equals("unreachable"));
        wait.until(ExpectedConditions.attributeContains(By.id("daemon"), "class", "down"));
        assertThat(br.findElement(By.id("daemon")).getText()).isEqualTo("web-2 unreachable");
        assertThat(br.findElement(By.cssSelector("#daemons tr[data-daemon='web-1'] td.state")).getText()).isEqualTo("up");
        screenshot(br, "fleet-one-down");
        // a reload keeps the daemon chosen
        br.navigate().refresh();
        wait.until(x -> "web-2".equals(((org.openqa.selenium.JavascriptExecutor) x).executeScript(
            "return document.getElementById('daemon-select').value")));
      } finally {
        quit(br);
      }
    }
  }

  @Test
  void withAccountsTheBrowserLogsInAndItsActionsCarryTheCsrfToken() throws Exception {
    Daemon d = start("[watcher:web]\ncmd = sleep 3600\n");
    await(Duration.ofSeconds(30), "1 process", () -> d.children().size() == 1);
    Process hash = new ProcessBuilder(Httpd.command("--hash-password")).start();
    try (var in = hash.getOutputStream()) {
      in.write("pw-of-alice\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    String h = new String(hash.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    assertThat(hash.waitFor()).isZero();
    Path accounts = dir.resolve("accounts");
    Files.writeString(accounts, "alice admin " + h + "\n");
    try (Httpd httpd = Httpd.start(d.endpoint(), "--users", accounts.toString())) {
      WebDriver b = browser();
      try {
        b.get(httpd.base + "/");
        WebDriverWait wait = new WebDriverWait(b, Duration.ofSeconds(10), Duration.ofMillis(50));
        wait.ignoring(StaleElementReferenceException.class);
        wait.until(ExpectedConditions.urlToBe(httpd.base + "/login"));
        b.manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        screenshot(b, "login-phone");
        b.manage().window().setSize(new org.openqa.selenium.Dimension(1280, 800));
        b.findElement(By.name("user")).sendKeys("alice");
        b.findElement(By.name("password")).sendKeys("pw-of-alice");
        b.findElement(By.cssSelector("button[type=submit]")).click();
        wait.until(x -> processes(x, "web").equals("1"));
        screenshot(b, "logged-in");
        b.findElement(By.cssSelector("tr[data-watcher='web'] button[data-action='+1']")).click();
        wait.until(x -> processes(x, "web").equals("2"));
        assertThat(d.children()).hasSize(2);
        assertThat(b.findElement(By.id("reply")).getText()).contains("incr").contains("\"status\": \"ok\"");
      } finally {
        quit(b);
      }
    }
  }

  @Test
  void theLogViewFollowsAChildAndAFloodLeavesThePageResponsive() throws Exception {
    Path talker = worker("talker.py");
    Path talk = Files.createDirectories(dir.resolve("talk"));
    Daemon d = start("[watcher:talker]\ncmd = " + python() + " -u " + talker + " " + talk + "\n");
    await(Duration.ofSeconds(30), "the talker", () -> d.children().size() == 1);
    try (Httpd httpd = Httpd.start(d.endpoint())) {
      WebDriver b = browser();
      try {
        b.get(httpd.base + "/");
        WebDriverWait wait = new WebDriverWait(b, Duration.ofSeconds(10), Duration.ofMillis(20));
        wait.ignoring(StaleElementReferenceException.class);
        wait.until(x -> x.findElements(By.cssSelector("#log-watcher option[value='talker']")).size() == 1);
        new org.openqa.selenium.support.ui.Select(b.findElement(By.id("log-watcher"))).selectByValue("talker");
        // the ring: what it printed before anyone looked
        wait.until(x -> x.findElement(By.id("log")).getText().contains("hello from pid"));

        // a line printed now shows within 1 s
        Files.writeString(talk.resolve("say.tmp"), "a line said at " + System.nanoTime());
        long t0 = System.nanoTime();
        Files.move(talk.resolve("say.tmp"), talk.resolve("say"));
        new WebDriverWait(b, Duration.ofSeconds(2), Duration.ofMillis(10)).ignoring(StaleElementReferenceException.class)
            .until(x -> x.findElement(By.id("log")).getText().contains("a line said at"));
        long shownMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("PHASE a printed line shown after " + shownMs + " ms (the worker looks every 50 ms)");
        assertThat(shownMs).isLessThan(1000);

        // one process: its own lines, from the ring on
        String pid = Long.toString(d.children().get(0));
        wait.until(x -> x.findElements(By.cssSelector("#log-pid option[value='" + pid + "']")).size() == 1);
        new org.openqa.selenium.support.ui.Select(b.findElement(By.id("log-pid"))).selectByValue(pid);
        wait.until(x -> x.findElement(By.id("log")).getText().contains("hello from pid " + pid)
            && x.findElement(By.id("log")).getText().contains("a line said at"));

        // 100 000 lines in a burst: the page still answers a click within 1 s, and says what it skipped or lost
        Files.writeString(talk.resolve("flood.tmp"), "100000");
        Files.move(talk.resolve("flood.tmp"), talk.resolve("flood"));
        wait.until(x -> x.findElement(By.id("log")).getText().contains("flood line"));
        long c0 = System.nanoTime();
        b.findElement(By.id("log-pause")).click();
        new WebDriverWait(b, Duration.ofSeconds(1), Duration.ofMillis(10))
            .until(x -> x.findElement(By.id("log-pause")).getText().equals("resume"));
        System.out.println("PHASE a click during the flood answered after " + (System.nanoTime() - c0) / 1_000_000
            + " ms");
        wait.until(x -> x.findElement(By.id("log-status")).getText().matches(".*(skipped|lost|dropped).*"));
        assertThat(b.findElements(By.cssSelector("#log > div")).size()).isLessThanOrEqualTo(2000);
        screenshot(b, "logs");
        b.manage().window().setSize(new org.openqa.selenium.Dimension(390, 844));
        b.findElement(By.id("log")).click(); // scrolled into view
        screenshot(b, "logs-phone");
        System.out.println("PHASE log status: " + b.findElement(By.id("log-status")).getText());
      } finally {
        quit(b);
      }
    }
  }
}
