//! Log set-up shared by every Tandem binary.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Safe to call twice.
pub fn init() {
    init_with_default("info");
}

/// Like [`init`] with another default filter, for tools whose normal output is not
/// the log (benchmarks print a report; per-node info lines would drown it).
/// Colours only on a terminal: escape codes in a redirected or piped log (a
/// file, journald, `2>&1 | tee`) are noise, and `NO_COLOR` turns them off.
pub fn init_with_default(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
