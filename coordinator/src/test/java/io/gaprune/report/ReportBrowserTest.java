package io.gaprune.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compare page as a person sees it: rendered by a real browser (Debian's {@code chromium}, headless), its
 * DOM must hold one chart per data set with a drawn line per method, and its pixels must show every method's
 * colour and the heat map's dark cells. A chart that the browser cannot draw (a malformed path, NaN
 * coordinates, an SVG outside the page) leaves no coloured pixels and fails here, where an XML parse passes.
 * Skipped, saying how to install it, where chromium is absent ({@code .ci/run} installs it).
 */
class ReportBrowserTest {

  /** The palette colours of the first three methods in {@link ReportWriter}. */
  private static final int[] METHOD_COLOURS = {0x4e79a7, 0xf28e2b, 0x59a14f};

  @Test
  void theComparePageRendersItsChartsInChromium(@TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir)
      throws Exception {
    var chromium = chromium();
    Assumptions.assumeTrue(chromium != null, "chromium not found: install Debian's package "
        + "(apt-get install -y chromium) or set GAPRUNE_CHROMIUM to a Chromium binary");
    ReportWriter.write(ReportSamples.compare(), dir);
    var page = dir.resolve("report.html").toUri().toString();

    var dom = run(chromium, dir, "--dump-dom", page);
    var charts = Pattern.compile("<svg[^>]*class=\"sparsity-chart\"[^>]*>(.*?)</svg>", Pattern.DOTALL).matcher(dom);
    var datasets = new ArrayList<String>();
    while (charts.find()) {
      var header = charts.group(0).substring(0, charts.group(0).indexOf('>'));
      var m = Pattern.compile("data-dataset=\"([^\"]*)\"").matcher(header);
      datasets.add(m.find() ? m.group(1) : "?");
      var lines = Pattern.compile("<polyline[^>]*class=\"method-line\"[^>]*points=\"([^\"]+)\"")
          .matcher(charts.group(1));
      int count = 0;
      while (lines.find()) {
        assertEquals(1 + ReportSamples.SPARSITIES.size(), lines.group(1).trim().split("\\s+").length,
            "points of a line in the browser's DOM: " + lines.group(0));
        assertTrue(!lines.group(1).contains("NaN"), lines.group(0));
        count++;
      }
      assertEquals(ReportSamples.METHODS.size(), count, "method lines in the chart of " + datasets.get(datasets.size() - 1));
    }
    assertEquals(ReportSamples.DATASETS, datasets, "one chart per evaluation set in the browser's DOM");
    assertTrue(dom.contains("class=\"heat-map\""), "no heat map in the browser's DOM");

    var png = dir.resolve("report.png");
    run(chromium, dir, "--hide-scrollbars", "--window-size=1200,3000", "--screenshot=" + png, page);
    BufferedImage image = ImageIO.read(png.toFile());
    assertTrue(image != null && image.getWidth() > 0, "chromium wrote no readable screenshot");
    for (int i = 0; i < ReportSamples.METHODS.size(); i++) {
      long pixels = count(image, METHOD_COLOURS[i], 16);
      System.out.printf(Locale.ROOT, "browser: %s drawn in %d pixels%n", ReportSamples.METHODS.get(i), pixels);
      // two charts, each a ~400-pixel line 2.5 pixels wide plus two markers; the legend alone is ~120 pixels
      assertTrue(pixels > 1000, ReportSamples.METHODS.get(i) + "'s colour covers only " + pixels
          + " pixels: its lines are not drawn (screenshot " + png + ")");
    }
    // the heat map's 0.6-sparsity cells
    long dark = count(image, Integer.parseInt(ReportWriter.heatColor(353_894 / 589_824.0).substring(1), 16), 12);
    System.out.printf(Locale.ROOT, "browser: heat-map cells at 0.60 drawn in %d pixels%n", dark);
    assertTrue(dark > 2 * 90 * 22 / 2, "the heat map's cells are not drawn (" + dark + " pixels)");
  }

  /** Pixels within {@code tolerance} (per channel) of {@code rgb}. */
  private static long count(BufferedImage image, int rgb, int tolerance) {
    long n = 0;
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int p = image.getRGB(x, y);
        if (Math.abs(((p >> 16) & 255) - ((rgb >> 16) & 255)) <= tolerance
            && Math.abs(((p >> 8) & 255) - ((rgb >> 8) & 255)) <= tolerance
            && Math.abs((p & 255) - (rgb & 255)) <= tolerance) {
          n++;
        }
      }
    }
    return n;
  }

  /** {@code GAPRUNE_CHROMIUM}, else {@code chromium} or {@code chromium-browser} on the PATH; null if none. */
  static String chromium() {
    var configured = System.getenv("GAPRUNE_CHROMIUM");
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    for (var dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      for (var name : List.of("chromium", "chromium-browser")) {
        var candidate = Path.of(dir, name);
        if (Files.isExecutable(candidate)) {
          return candidate.toString();
        }
      }
    }
    return null;
  }

  /** Runs headless chromium with its own profile in {@code dir}; its stdout (the DOM for --dump-dom). */
  private static String run(String chromium, Path dir, String... arguments) throws IOException, InterruptedException {
    var command = new ArrayList<>(List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu",
        "--no-first-run", "--user-data-dir=" + dir.resolve("profile")));
    command.addAll(List.of(arguments));
    var stderr = dir.resolve("chromium.err");
    var process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
    var out = process.getInputStream().readAllBytes();
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("chromium did not finish in 120 s: " + command);
    }
    assertEquals(0, process.exitValue(), "chromium failed: " + command + "\n" + Files.readString(stderr));
    return new String(out, StandardCharsets.UTF_8);
  }
}
