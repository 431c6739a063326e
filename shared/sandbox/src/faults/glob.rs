//! Route patterns for fault rules: `*` matches any run of characters (including `/`), `?` one.

/// True when `path` matches `pattern` entirely.
pub fn matches(pattern: &str, path: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), path.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        assert!(matches("*", "/v2.0/x"));
        assert!(matches(
            "*/RescoCustomer*",
            "/v2.0/t/e/api/companies(1)/RescoCustomer"
        ));
        assert!(!matches(
            "*/RescoCustomer",
            "/v2.0/t/e/api/companies(1)/RescoContact"
        ));
        assert!(matches("/v2.0/?/*", "/v2.0/t/anything"));
        assert!(!matches("/v2.0/?/*", "/v2.0/tt"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
    }
}
