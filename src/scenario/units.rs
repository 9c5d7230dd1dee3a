//! Human units in scenario files: durations ("30s", "500ms"), sizes ("1KiB", "512B") and
//! rates ("5000/s", "max"). Each parser says what it expected, for the error message.

use std::time::Duration;

/// A send rate: a fixed number per second (open loop) or as fast as possible.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    /// Messages per second, with intended send times on a fixed schedule.
    PerSecond(f64),
    /// As fast as the client accepts, with bounded in-flight sends.
    Max,
}

/// Parses "30s", "1m30s", "250ms".
pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| "expected a duration like \"30s\", \"2m\" or \"500ms\"".to_owned())
}

/// Parses "1KiB", "512B", "2MiB", "1000" (bytes), "1KB" (1000 bytes).
pub fn size(text: &str) -> Result<usize, String> {
    const RULE: &str = "expected a size like \"1KiB\", \"512B\" or \"1MiB\"";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| RULE.to_owned())?;
    let factor = match unit.trim() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        _ => return Err(RULE.to_owned()),
    };
    let bytes = number * factor;
    if !(bytes.is_finite() && bytes >= 0.0 && bytes.fract() == 0.0) {
        return Err(RULE.to_owned());
    }
    Ok(bytes as usize)
}

/// Parses "5000/s", "300/m" or "max".
pub fn rate(text: &str) -> Result<Rate, String> {
    const RULE: &str = "expected a number per second like \"5000/s\", or \"max\"";
    let text = text.trim();
    if text == "max" {
        return Ok(Rate::Max);
    }
    let (number, per) = text.split_once('/').ok_or_else(|| RULE.to_owned())?;
    let number: f64 = number.trim().parse().map_err(|_| RULE.to_owned())?;
    let per_second = match per.trim() {
        "s" => number,
        "m" => number / 60.0,
        _ => return Err(RULE.to_owned()),
    };
    if !(per_second.is_finite() && per_second > 0.0) {
        return Err(RULE.to_owned());
    }
    Ok(Rate::PerSecond(per_second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(duration("30").is_err());
        assert_eq!(size("1KiB"), Ok(1024));
        assert_eq!(size("512B"), Ok(512));
        assert_eq!(size("2MiB"), Ok(2 << 20));
        assert_eq!(size("1KB"), Ok(1000));
        assert!(size("1kb").is_err());
        assert!(size("-1B").is_err());
        assert_eq!(rate("5000/s"), Ok(Rate::PerSecond(5000.0)));
        assert_eq!(rate("max"), Ok(Rate::Max));
        assert_eq!(rate("120/m"), Ok(Rate::PerSecond(2.0)));
        assert!(rate("5k/s").is_err());
        assert!(rate("0/s").is_err());
    }
}
