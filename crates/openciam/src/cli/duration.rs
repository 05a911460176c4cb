//! Humane durations on the command line (`--activate-after 1h`, `--since 7d`,
//! `--older-than 90d`): digits followed by a unit, repeated — `30s`, `10m`, `1h30m`, `2d`, `2w`.
//! `0` alone is zero; other bare numbers are refused, so a missing unit is never guessed.

/// Seconds in `text`, or a message with an example.
pub fn parse_seconds(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a duration; write e.g. 30s, 10m, 1h30m or 90d");
    let text = text.trim();
    if text == "0" {
        return Ok(0);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn durations_parse_in_humane_units() {
        for (text, secs) in [
            ("0", 0),
            ("0s", 0),
            ("30s", 30),
            ("10m", 600),
            ("1h", 3600),
            ("1h30m", 5400),
            ("2d", 172_800),
            ("90d", 7_776_000),
            ("2w", 1_209_600),
            ("1d12h", 129_600),
        ] {
            assert_eq!(parse_seconds(text), Ok(secs), "{text}");
        }
        for bad in [
            "",
            "1",
            "10",
            "h",
            "1x",
            "5x",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
