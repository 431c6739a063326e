//! The order Dataverse returns rows in: SQL Server's. GUIDs sort as `uniqueidentifier` does (the
//! last six bytes first), and strings by a case-insensitive collation ("Page results": never page
//! by `accountid gt last`, the order is not the GUIDs' text order).

use std::cmp::Ordering;

use uuid::Uuid;

use super::super::value::Value;

/// Byte significance of SQL Server's `uniqueidentifier` comparison, as positions in the GUID's
/// text (big-endian) byte order: bytes 10–15, then 8–9, then 6–7, 4–5 and 0–3, each group of
/// the first three compared in storage (little-endian) order (.NET `SqlGuid.CompareTo`).
const SIGNIFICANCE: [usize; 16] = [10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0];

pub fn cmp_guid(a: &Uuid, b: &Uuid) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    SIGNIFICANCE
        .iter()
        .map(|&i| a[i].cmp(&b[i]))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Compares two cells the way SQL Server's default collation does.
pub fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Guid(a), Value::Guid(b)) => cmp_guid(a, b),
        (Value::Str(a), Value::Str(b)) => a
            .chars()
            .flat_map(char::to_lowercase)
            .cmp(b.chars().flat_map(char::to_lowercase)),
        _ => a.total_cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_group_is_most_significant() {
        let a: Uuid = "ffffffff-ffff-ffff-ffff-000000000001".parse().unwrap();
        let b: Uuid = "00000000-0000-0000-0000-000000000002".parse().unwrap();
        assert_eq!(cmp_guid(&a, &b), Ordering::Less);
        let c: Uuid = "00000000-0000-0000-0100-000000000000".parse().unwrap();
        let d: Uuid = "00000000-0000-0000-0001-000000000000".parse().unwrap();
        assert_eq!(cmp_guid(&c, &d), Ordering::Greater, "8-9 in text order");
        let e: Uuid = "00000000-0000-0001-0000-000000000000".parse().unwrap();
        let f: Uuid = "00000000-0000-0100-0000-000000000000".parse().unwrap();
        assert_eq!(cmp_guid(&e, &f), Ordering::Greater, "6-7 byte-swapped");
        assert_eq!(
            cmp_values(&Value::str("abc"), &Value::str("ABD")),
            Ordering::Less
        );
    }
}
