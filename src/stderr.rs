//! The harness's standard error: [`note`](crate::note) lines and tracing output pass through
//! here, and every secret value registered with [`hide`] is written as `[redacted]`
//! (client libraries quote settings in their errors: librdkafka's "Java JAAS configuration
//! is not supported ... sasl.jaas.config `<the value>`").

use std::io::{self, Write};
use std::sync::RwLock;

use crate::scenario::secrets;

/// Secret values registered so far.
static HIDDEN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// From now on, writes `values` as `[redacted]` wherever they appear on standard error.
pub fn hide(values: impl IntoIterator<Item = String>) {
    let mut hidden = HIDDEN.write().unwrap_or_else(|e| e.into_inner());
    for value in values {
        if !value.is_empty() && !hidden.contains(&value) {
            hidden.push(value);
        }
    }
}

/// `text` with every registered secret replaced.
pub fn scrub(text: &str) -> String {
    let hidden = HIDDEN.read().unwrap_or_else(|e| e.into_inner());
    if hidden.is_empty() {
        return text.to_owned();
    }
    secrets::scrub(text, &hidden)
}

/// Standard error with registered secrets scrubbed from each write (a tracing event or a
/// note is one write); give it to `tracing_subscriber::fmt().with_writer(...)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scrubbed;

impl Write for Scrubbed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_scrubbed() {
        hide(["s3cr3t-for-stderr-test".to_owned(), String::new()]);
        assert_eq!(
            scrub("config error: sasl.jaas.config s3cr3t-for-stderr-test"),
            "config error: sasl.jaas.config [redacted]"
        );
        assert_eq!(scrub("nothing to hide"), "nothing to hide");
    }
}
