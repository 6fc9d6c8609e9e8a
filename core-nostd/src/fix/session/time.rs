//! SendingTime (52) / OrigSendingTime (122) values: FIX UTCTimestamp
//! `YYYYMMDD-HH:MM:SS[.f…]` to ns since the Unix epoch, integers only.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm, the inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `n` ASCII digits at the front of `v` as a number.
fn digits(v: &[u8], n: usize) -> Option<u32> {
    let d = v.get(..n)?;
    d.iter().try_fold(0u32, |a, &c| {
        c.is_ascii_digit().then(|| a * 10 + u32::from(c - b'0'))
    })
}

/// Parses a UTCTimestamp with 0 to 9 fractional digits; `None` when it is
/// malformed, out of range or before 1970.
pub(crate) fn parse_utc_timestamp(v: &[u8]) -> Option<u64> {
    if v.len() < 17
        || v.get(8) != Some(&b'-')
        || v.get(11) != Some(&b':')
        || v.get(14) != Some(&b':')
    {
        return None;
    }
    let (y, mo, d) = (digits(v, 4)?, digits(&v[4..], 2)?, digits(&v[6..], 2)?);
    let (h, mi, s) = (
        digits(&v[9..], 2)?,
        digits(&v[12..], 2)?,
        digits(&v[15..], 2)?,
    );
    // 60 allows a leap second.
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut frac_ns: u64 = 0;
    if let Some(rest) = v.get(17..).filter(|r| !r.is_empty()) {
        let f = rest.strip_prefix(b".")?;
        if f.is_empty() || f.len() > 9 {
            return None;
        }
        let val = u64::from(digits(f, f.len())?);
        frac_ns = val * 10u64.pow(9 - f.len() as u32);
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days
        .checked_mul(86_400)?
        .checked_add(i64::from(h * 3600 + mi * 60 + s))?;
    let secs = u64::try_from(secs).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

#[cfg(test)]
mod tests {
    use super::super::super::civil_from_days;
    use super::*;

    #[test]
    fn timestamps() {
        let t = 1_710_513_000_123_456_789u64;
        assert_eq!(parse_utc_timestamp(b"20240315-14:30:00.123456789"), Some(t));
        assert_eq!(
            parse_utc_timestamp(b"20240315-14:30:00.123"),
            Some(t - 456_789)
        );
        assert_eq!(
            parse_utc_timestamp(b"20240315-14:30:00"),
            Some(t - 123_456_789)
        );
        assert_eq!(parse_utc_timestamp(b"19700101-00:00:00"), Some(0));
        for bad in [
            &b"20240315-14:30"[..],
            b"20240315 14:30:00",
            b"20241315-14:30:00",
            b"20240315-24:30:00",
            b"20240315-14:30:00.",
            b"20240315-14:30:00.1234567890",
            b"20240315-14:30:00x",
            b"19691231-23:59:59",
            b"2024031a-14:30:00",
            b"00000000-00:00:00",
        ] {
            assert_eq!(parse_utc_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn days_round_trip() {
        for d in [-1000i64, -1, 0, 1, 11_016, 19_797, 200_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }
}
