//! Logging: `tracing` to stderr, filtered by `OPENCIAM_LOG` (default `info`), as text or JSON.
//! Nothing logged anywhere contains a password, code or token: secrets are newtypes whose `Debug`
//! is redacted, and handlers log ids, never bodies.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `json` selects JSON lines.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_env("OPENCIAM_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The process's Prometheus recorder, installed once: the `metrics` facade is process-wide, so
/// every server in a process (tests start several) reports into the same registry.
static PROMETHEUS: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
    std::sync::OnceLock::new();

/// Latency buckets, seconds: password hashing puts sign-ins at tens to hundreds of milliseconds.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Installs the Prometheus recorder (first call) and returns what renders `/metrics`; `None` if
/// another recorder was installed first.
pub fn metrics() -> Option<openciam_http::MetricsRender> {
    let handle = PROMETHEUS.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok()?;
        // Histograms keep raw samples until upkeep folds them; do it in the background.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .ok()?;
        Some(handle)
    });
    let handle = handle.clone()?;
    Some(std::sync::Arc::new(move || handle.render()))
}
