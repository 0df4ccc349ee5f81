package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The live dashboard end to end: a real train run on the embedded broker serves it, Debian's
 * Chromium (headless, driven over WebDriver) opens it while the run goes, and its charts and the
 * prompt table fill with the run's data; /metrics is scraped during the run. The screenshot is left
 * in target/dashboard.png.
 */
class DashboardTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @TempDir
    Path dir;

    @Test
    void theDashboardShowsALiveRunInARealBrowserAndMetricsAreScrapedDuringIt() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "Chromium and its driver are not installed (apt-get install chromium chromium-driver); .ci/run installs them");
        Path weights = TinyPolicy.train(dir);
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        List<String> args = new ArrayList<>(List.of("train", "--run-id", "live", "--run-dir", dir.resolve("live").toString(),
                "--http-port", Integer.toString(port), "--method", "paced"));
        args.addAll(TinyPolicy.runOptions(weights, 40));
        args.addAll(List.of("--set", "eval-every=4"));
        CompletableFuture<CommandRun> run = CompletableFuture.supplyAsync(() -> CommandRun.of(args.toArray(String[]::new)));
        String url = "http://127.0.0.1:" + port + "/";
        HttpClient http = HttpClient.newHttpClient();
        awaitAnswer(http, url + "health", run);

        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1360,1200");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).build();
        WebDriver browser = new ChromeDriver(service, options);
        try {
            browser.get(url);
            WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(120));
            wait.until(b -> points(b, "held-out") >= 2 && points(b, "band") >= 3 && points(b, "staleness") >= 3
                    && points(b, "p-hat") == 10 && points(b, "calibration") >= 1
                    && !b.findElements(By.cssSelector("#prompts tbody tr")).isEmpty());
            assertTrue(browser.findElement(By.id("run-id")).getText().equals("live"));
            assertTrue(browser.findElement(By.id("status")).getText().startsWith("version "), browser.findElement(By.id("status")).getText());
            wait.until(b -> b.findElements(By.cssSelector("#lag tbody tr")).size() >= 3);
            assertTrue(browser.findElement(By.id("lag")).getText().contains("generator"), browser.findElement(By.id("lag")).getText());

            String scrape = http.send(HttpRequest.newBuilder(URI.create(url + "metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            for (String meter : List.of("pacedrl_learner_version{instance=\"policy\",run=\"live\",service=\"learner\"}",
                    "pacedrl_rollouts_generated_total{instance=\"generator-0\",run=\"live\",service=\"generator\"}",
                    "pacedrl_verifier_latency_seconds_count{", "pacedrl_learner_beta_kl{", "kafka_consumer_fetch_manager_records_lag_max{",
                    "jvm_memory_used_bytes{")) {
                assertTrue(scrape.contains(meter), meter + " in the scrape");
            }

            // The search narrows the table to what it asks for.
            browser.findElement(By.name("sort")).sendKeys("p-hat");
            browser.findElement(By.name("min-p-hat")).sendKeys("0");
            browser.findElement(By.cssSelector("#prompt-search button")).click();
            wait.until(b -> b.findElement(By.id("prompt-matches")).getText().endsWith("match"));

            File shot = ((ChromeDriver) browser).getScreenshotAs(OutputType.FILE);
            Files.copy(shot.toPath(), Path.of("target", "dashboard.png"), StandardCopyOption.REPLACE_EXISTING);
        } finally {
            browser.quit();
        }
        CommandRun finished = run.get(5, TimeUnit.MINUTES);
        assertEquals(0, finished.exitCode(), finished.out() + finished.err());
        assertTrue(finished.out().contains("dashboard  " + url), finished.out());
        List<String> lines = Files.readAllLines(dir.resolve("live").resolve(TrainingRun.EVENTS_FILE));
        assertTrue(lines.stream().filter(l -> l.startsWith("{\"type\":\"metrics\"")).count() == 40, "an event a line, as they came");
        assertTrue(lines.get(lines.size() - 1).startsWith("{\"type\":\"final\""), lines.get(lines.size() - 1));
    }

    private static long points(WebDriver browser, String chart) {
        return Long.parseLong(browser.findElement(By.id(chart)).getAttribute("data-points"));
    }

    private static void awaitAnswer(HttpClient http, String url, CompletableFuture<CommandRun> run) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            if (run.isDone()) {
                throw new AssertionError("train ended before its dashboard answered: " + run.get().out() + run.get().err());
            }
            try {
                http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding());
                return;
            } catch (java.io.IOException notYet) {
                Thread.sleep(200);
            }
        }
        throw new AssertionError("the dashboard did not answer at " + url);
    }
}
