//! The HTML report through the binary: `run` writes report.html beside result.json,
//! `report` re-renders it from the result alone (escaping what the user wrote) and builds an
//! index over several; a real headless browser (Debian's `chromium`) renders the page, takes
//! a screenshot, and finds its charts drawn, nothing loaded from anywhere, and no errors.
//!
//! The browser test skips itself, saying so, where no chromium is installed (`.ci/run`
//! installs it). Runs use librdkafka's mock cluster: what is tested is the report, not Kafka.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{assert_exit, harness, run_dirs, scenario, stderr, stdout};

const MARKUP: &str = "<script>alert(\"x\")</script>";

/// A short mock run with a consumer and a fault, so every chart has something to draw.
const SCENARIO: &str = r#"
name = "report-demo"
seed = 3
warmup = "0s"
duration = "4s"
drain_timeout = "20s"

[[topics]]
name = "report-demo"
partitions = 4

[[producers]]
name = "p"
driver = "rdkafka"
topic = "report-demo"
rate = "400/s"
template = "audit"
size = "1KiB"
keys = { count = 50, distribution = "uniform" }

[[consumers]]
name = "c"
driver = "rdkafka"
topic = "report-demo"
group = "report-demo"
commit = "auto"

[[faults]]
action = "delay"
delay = "200ms"
target = 1
at = "1s"
restart_after = "1s"

[checks]
anomalies = ["lost_write", "duplicate_write", "order_violation", "lost_delivery"]
"#;

/// Runs the demo scenario on the mock cluster into `out`; returns the run's folder.
fn run_demo(out: &Path) -> PathBuf {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "report-demo", SCENARIO);
    let o = harness(&[
        "run",
        file.to_str().unwrap(),
        "--cluster",
        "mock",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("report.html"), "{}", stdout(&o));
    let run = run_dirs(out).pop().expect("a run folder");
    assert!(run.join("report.html").is_file());
    run
}

/// Puts markup into the parts of a result a user controls and re-renders it.
fn rerender_with_markup(run: &Path) {
    let file = run.join("result.json");
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    r["scenario"] = MARKUP.into();
    r["checks"][0]["detail"] = MARKUP.into();
    std::fs::write(&file, serde_json::to_vec(&r).unwrap()).unwrap();
    let o = harness(&["report", file.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("report.html"));
}

#[test]
fn report_rerenders_escapes_and_indexes() {
    let out = tempfile::tempdir().unwrap();
    let run = run_demo(out.path());
    let first = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(first.contains("NOT A REAL BROKER"), "the mock is labelled");
    assert!(first.contains("report-demo"));

    rerender_with_markup(&run);
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        !html.contains("<script"),
        "markup in the result became markup"
    );
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)"));

    // Two results: a page each and an index beside their folders, linking both.
    let copy = out.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(run.join("result.json"), copy.join("result.json")).unwrap();
    let o = harness(&[
        "report",
        run.join("result.json").to_str().unwrap(),
        copy.join("result.json").to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert_eq!(index.matches("report.html\"").count(), 2, "{index}");
    assert!(copy.join("report.html").is_file());
    // The copy has no histogram logs beside it: said, not linked.
    let copied = std::fs::read_to_string(copy.join("report.html")).unwrap();
    assert!(copied.contains("ack.hlog (missing)"));

    // Not a result: exit 2, the file named, nothing written.
    let bad = out.path().join("bad.json");
    std::fs::write(&bad, "{\"scenario\": 1}").unwrap();
    let o = harness(&["report", bad.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("bad.json:1:"), "{}", stderr(&o));
}

/// The chromium binary: `$CHROMIUM`, else the first of the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
    .find(|p| p.is_file())
}

/// Runs headless chromium with `args` on `page`; returns its standard output. Killed after
/// a minute.
fn browse(browser: &Path, profile: &Path, args: &[&str], page: &Path) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium took over a minute");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut text).unwrap();
    text
}

/// Appended to a copy of the page (the report itself has no script): measures what the
/// browser drew and writes it as JSON into `<pre id="probe">`.
const PROBE: &str = r#"<script>
var errors = [];
window.addEventListener("error", function (e) { errors.push(String(e.message)); });
window.addEventListener("load", function () {
  var charts = {};
  document.querySelectorAll("figure.chart").forEach(function (f) {
    var svg = f.querySelector("svg");
    var box = svg.getBoundingClientRect();
    var lines = 0, length = 0;
    f.querySelectorAll("path.line").forEach(function (p) {
      lines += 1; length += p.getTotalLength();
    });
    charts[f.id] = {
      width: box.width, height: box.height, lines: lines, length: length,
      bars: f.querySelectorAll("rect[class^=b-]").length,
      faults: f.querySelectorAll("g.marker.fault").length,
      rebalances: f.querySelectorAll("g.marker.rebalance").length,
      ticks: f.querySelectorAll("text.tick").length
    };
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({
    errors: errors,
    requests: performance.getEntriesByType("resource").length,
    scripts: document.scripts.length,
    heading: document.querySelector("h1").textContent,
    banner: getComputedStyle(document.getElementById("verdict")).backgroundColor,
    charts: charts
  });
  document.body.appendChild(pre);
});
</script>"#;

#[test]
fn the_report_renders_in_a_real_browser() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the_report_renders_in_a_real_browser: no chromium on PATH \
             (apt-get install chromium, or set CHROMIUM)"
        );
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let run = run_demo(out.path());
    rerender_with_markup(&run);
    let page = run.join("report.html");
    let profile = tempfile::tempdir().unwrap();

    // The page as the browser built it, measured by the probe.
    let html = std::fs::read_to_string(&page).unwrap();
    let probed = run.join("probe.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let dom = browse(&browser, profile.path(), &["--dump-dom"], &probed);
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let probe: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(probe["errors"], serde_json::json!([]), "{probe}");
    assert_eq!(probe["requests"], 0, "the page loaded something: {probe}");
    assert_eq!(probe["scripts"], 1, "only the probe is a script: {probe}");
    assert_eq!(probe["heading"], MARKUP, "markup shown as text: {probe}");
    assert_eq!(probe["banner"], "rgb(26, 127, 55)", "a green PASS banner");
    let charts = probe["charts"].as_object().unwrap();
    for id in [
        "chart-spectrum",
        "chart-throughput",
        "chart-latency",
        "chart-skew",
    ] {
        let c = &charts[id];
        assert!(c["width"].as_f64().unwrap() > 500.0, "{id}: {c}");
        assert!(c["height"].as_f64().unwrap() > 100.0, "{id}: {c}");
        assert!(c["ticks"].as_u64().unwrap() >= 4, "{id} has axes: {c}");
    }
    assert!(charts["chart-spectrum"]["lines"].as_u64().unwrap() == 2);
    assert!(charts["chart-spectrum"]["length"].as_f64().unwrap() > 100.0);
    assert!(charts["chart-throughput"]["lines"].as_u64().unwrap() >= 3);
    // The delay and its undo: two faults, marked on both timeline charts; the group's
    // first assignment too.
    for id in ["chart-throughput", "chart-latency"] {
        assert_eq!(charts[id]["faults"], 2, "{probe}");
        assert!(charts[id]["rebalances"].as_u64().unwrap() >= 1, "{probe}");
    }
    assert_eq!(charts["chart-skew"]["bars"], 4, "a bar per partition");

    // A screenshot: a PNG of the page, the banner in the verdict's colour near its top.
    let shot = run.join("report.png");
    browse(
        &browser,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
        ],
        &page,
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 2400));
    let channels = frame.line_size / frame.width as usize;
    let at = |x: usize, y: usize| {
        let i = y * frame.line_size + x * channels;
        (pixels[i], pixels[i + 1], pixels[i + 2])
    };
    // The banner starts 24 px down, inside a 960 px column centred in 1280.
    assert_eq!(at(200, 40), (26, 127, 55), "the banner is drawn");
    let colours: std::collections::HashSet<_> = (0..frame.height as usize)
        .step_by(7)
        .flat_map(|y| (0..frame.width as usize).step_by(5).map(move |x| (x, y)))
        .map(|(x, y)| at(x, y))
        .collect();
    assert!(
        colours.len() > 50,
        "a page, not a blank: {} colours",
        colours.len()
    );
}

/// A short ladder on the mock with a latency bound, at two grid points: two charts to draw.
const SWEEP: &str = r#"
name = "sweep-demo"
seed = 5
warmup = "0s"
duration = "2s"
drain_timeout = "20s"

[[topics]]
name = "sweep-demo"
partitions = 2

[[producers]]
name = "p"
driver = "rdkafka"
topic = "sweep-demo"
rate = "200/s"
template = "raw"
size = "100B"
keys = { count = 20, distribution = "uniform" }

[[consumers]]
name = "c"
driver = "rdkafka"
topic = "sweep-demo"
group = "sweep-demo"
commit = "auto"

[checks]
anomalies = ["lost_write", "lost_delivery"]
duplicate_delivery = "allowed"

[checks.slo]
e2e_p99 = "1s"

[sweep]
mode = "ladder"
rates = ["200/s", "400/s", "800/s"]

[sweep.grid]
size = ["100B", "1KiB"]
"#;

/// Appended to a copy of sweep.html: measures each chart as the browser drew it.
const SWEEP_PROBE: &str = r##"<script>
var errors = [];
window.addEventListener("error", function (e) { errors.push(String(e.message)); });
window.addEventListener("load", function () {
  var charts = [];
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    var series = [];
    svg.querySelectorAll("polyline.series").forEach(function (p) {
      var b = p.getBoundingClientRect();
      series.push({
        name: p.getAttribute("data-series"),
        points: p.points.numberOfItems,
        length: p.getTotalLength(),
        inside: b.left >= box.left - 1 && b.right <= box.right + 1 &&
                b.top >= box.top - 1 && b.bottom <= box.bottom + 1
      });
    });
    var slo = svg.querySelector("line.slo");
    var answer = svg.querySelector("line.answer");
    charts.push({
      width: box.width, height: box.height, series: series,
      slo: slo ? slo.getBoundingClientRect().width : 0,
      answer: answer ? answer.getBoundingClientRect().height : 0
    });
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({
    errors: errors,
    requests: performance.getEntriesByType("resource").length,
    links: document.querySelectorAll("a[href$='report.html']").length,
    capacity: document.querySelectorAll("#capacity tbody tr").length,
    charts: charts
  });
  document.body.appendChild(pre);
});
</script>"##;

#[test]
fn the_sweep_chart_renders_in_a_real_browser() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the_sweep_chart_renders_in_a_real_browser: no chromium on PATH \
             (apt-get install chromium, or set CHROMIUM)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "sweep-demo", SWEEP);
    let out = dir.path().join("out");
    let o = harness(&[
        "sweep",
        file.to_str().unwrap(),
        "--cluster",
        "mock",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let folder = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let html = std::fs::read_to_string(folder.join("sweep.html")).unwrap();
    let probed = folder.join("probe.html");
    std::fs::write(
        &probed,
        html.replace("</body>", &format!("{SWEEP_PROBE}</body>")),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let dom = browse(&browser, profile.path(), &["--dump-dom"], &probed);
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let probe: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(probe["errors"], serde_json::json!([]), "{probe}");
    assert_eq!(probe["requests"], 0, "the page loaded something: {probe}");
    // One warm-up and three rates at each of two points, each linked to its report.
    assert_eq!(probe["links"], 7, "{probe}");
    assert_eq!(probe["capacity"], 2, "a row per grid point: {probe}");
    let charts = probe["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 2, "a chart per grid point: {probe}");
    for c in charts {
        assert!(c["width"].as_f64().unwrap() > 500.0, "{c}");
        assert!(c["height"].as_f64().unwrap() > 200.0, "{c}");
        let series = c["series"].as_array().unwrap();
        assert_eq!(series.len(), 4, "{c}");
        for s in series {
            // A point per counted step (the warm-up is not drawn), drawn inside the chart.
            assert_eq!(s["points"], 3, "{s}");
            assert!(
                s["length"].as_f64().unwrap() > 10.0,
                "a line, not a dot: {s}"
            );
            assert_eq!(s["inside"], true, "{s}");
        }
        assert!(
            c["slo"].as_f64().unwrap() > 400.0,
            "the SLO line spans it: {c}"
        );
        assert!(
            c["answer"].as_f64().unwrap() > 150.0,
            "the answer is marked: {c}"
        );
    }
}
