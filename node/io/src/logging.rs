//! Log set-up shared by every Tandem binary.

use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Safe to call twice.
pub fn init() {
    init_with_default("info");
}

/// Like [`init`] with another default filter, for tools whose normal output is not
/// the log (benchmarks print a report; per-node info lines would drown it).
pub fn init_with_default(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
