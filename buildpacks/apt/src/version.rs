//! Debian version comparison (Debian policy 5.6.12, as `dpkg --compare-versions` does it).

use std::cmp::Ordering;

/// `epoch`, `upstream`, `revision` of `[epoch:]upstream[-revision]`.
fn split(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (epoch.parse().unwrap_or(0), rest),
        None => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The sort weight of a character in the non-digit parts: `~` before everything (even the
/// end of the string), then the end, then letters, then other characters.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_part(mut a: &[u8], mut b: &[u8]) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        // Non-digit prefixes, character by character.
        loop {
            let ca = a.first().copied().filter(|c| !c.is_ascii_digit());
            let cb = b.first().copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let order = weight(ca).cmp(&weight(cb));
            if order != Ordering::Equal {
                return order;
            }
            a = &a[1..];
            b = &b[1..];
        }
        // Digit runs, numerically.
        let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
        let (da, db) = (digits(a), digits(b));
        let number = |s: &[u8]| {
            s.iter()
                .skip_while(|c| **c == b'0')
                .copied()
                .collect::<Vec<u8>>()
        };
        let (na, nb) = (number(&a[..da]), number(&b[..db]));
        let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(&nb));
        if order != Ordering::Equal {
            return order;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

/// Orders two Debian versions.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| compare_part(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| compare_part(ra.as_bytes(), rb.as_bytes()))
}

/// Whether `version` satisfies `operator reference` (`<<`, `<=`, `=`, `>=`, `>>`).
pub(crate) fn satisfies(version: &str, operator: &str, reference: &str) -> bool {
    let order = compare(version, reference);
    match operator {
        "<<" | "<" => order == Ordering::Less,
        "<=" => order != Ordering::Greater,
        "=" => order == Ordering::Equal,
        ">=" => order != Ordering::Less,
        ">>" | ">" => order == Ordering::Greater,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_dpkg_does() {
        let ascending = [
            "1.0~rc1",
            "1.0",
            "1.0-1",
            "1.0-1+b1",
            "1.0-1+deb12u1",
            "1.0a",
            "1.1",
            "1.10",
            "2:0.1",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(compare("1.01", "1.1"), Ordering::Equal);
        assert_eq!(compare("0:1.0", "1.0"), Ordering::Equal);
        assert!(satisfies("15.10-0+deb12u1", ">=", "15.2"));
        assert!(!satisfies("15.10-0+deb12u1", "<<", "15.2"));
        assert!(satisfies("2.36-9+deb12u10", "=", "2.36-9+deb12u10"));
    }
}
