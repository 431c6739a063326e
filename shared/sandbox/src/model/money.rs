//! Dataverse Money values: exact decimals with four places, kept as scaled integers so a revenue
//! of 1234567890123456.78 survives ("Use the Web API" / Money columns: Edm.Decimal, serialized
//! with four decimals, e.g. `20000.0000`).

use super::value::Value;

/// Ten-thousandths per unit.
pub const SCALE: i128 = 10_000;

/// `20000.0000`: the text Dataverse writes for a Money value.
pub fn text(m: i128) -> String {
    let sign = if m < 0 { "-" } else { "" };
    let abs = m.unsigned_abs();
    let scale = SCALE.unsigned_abs();
    format!("{sign}{}.{:04}", abs / scale, abs % scale)
}

/// Parses decimal text (`1234.5`, `-0.0001`, `20000.0000`); `None` when it is not a decimal or
/// carries more than four decimals (Money's precision).
pub fn parse(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || frac.len() > 4
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac: i128 = format!("{frac:0<4}").parse().ok()?;
    let m = int.checked_mul(SCALE)?.checked_add(frac)?;
    Some(if neg { -m } else { m })
}

/// Only for comparisons with f64 literals in `$filter`.
pub fn to_f64(m: i128) -> f64 {
    m as f64 / SCALE as f64
}

/// `1234567` → `1,234,567` (US English digit grouping, for formatted values).
pub fn group_thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

/// `$1,234,567.89`: the formatted value Dataverse gives a Money column in US English (two
/// decimals, the currency's symbol, thousands separators).
pub fn formatted(m: i128) -> String {
    let cents = (m.unsigned_abs() + 50) / 100;
    let (units, cents) = (cents / 100, cents % 100);
    let grouped = group_thousands(&units.to_string());
    let sign = if m < 0 { "-" } else { "" };
    format!("{sign}${grouped}.{cents:02}")
}

impl Value {
    pub fn money(text: &str) -> Option<Value> {
        parse(text).map(Value::Money)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_exactly_with_four_decimals() {
        assert_eq!(parse("20000"), Some(200_000_000));
        assert_eq!(text(200_000_000), "20000.0000");
        let big = parse("1234567890123456.78").unwrap();
        assert_eq!(text(big), "1234567890123456.7800");
        assert_eq!(text(parse("-0.5").unwrap()), "-0.5000");
        assert_eq!(parse("1.23456"), None);
        assert_eq!(parse("1e5"), None);
        assert_eq!(parse("."), None);
        assert_eq!(formatted(parse("1234567.891").unwrap()), "$1,234,567.89");
        assert_eq!(formatted(0), "$0.00");
    }
}
