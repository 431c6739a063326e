//! Docker's `.dockerignore` semantics (moby/patternmatcher), as far as Ferry's ignore file needs them:
//! a line is a pattern relative to the context root (`#` lines and blank lines skipped, a leading `/`
//! and a trailing `/` dropped, as Go's `filepath.Clean` does); `*`, `?`, `[…]` and `\` match within one
//! path segment (Go's `filepath.Match`); a `**` segment matches any number of segments, none included;
//! a pattern that matches a folder excludes everything in it; `!pattern` re-includes; the last pattern
//! that matches a path decides.

/// One line of the ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<String>,
    /// `!pattern`: matching paths are put back into the context.
    exception: bool,
}

/// The patterns of an ignore file, in order.
#[derive(Debug, Clone)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> DockerIgnore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (exception, rest) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                // filepath.Clean: no empty or `.` segments, so no leading or trailing `/` either.
                let segments = rest
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(str::to_string)
                    .collect();
                Pattern {
                    segments,
                    exception,
                }
            })
            .collect();
        DockerIgnore { patterns }
    }

    /// Whether `path` (relative, `/`-separated) is left out of the build context.
    pub fn excludes(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // The path itself or any folder above it.
            let matches =
                (1..=segments.len()).any(|n| matches_segments(&pattern.segments, &segments[..n]));
            if matches {
                excluded = !pattern.exception;
            }
        }
        excluded
    }
}

fn matches_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| matches_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                glob(first.as_bytes(), segment.as_bytes()) && matches_segments(rest, path_rest)
            }
            None => false,
        },
    }
}

/// Go's `filepath.Match` for one segment: `*` any run, `?` one character, `[a-z]` / `[^…]` a class,
/// `\x` the character x.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|n| glob(rest, &name[n..])),
        Some((b'?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some((&c, name_rest)) = name.split_first() else {
                return false;
            };
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let (class, after) = (&rest[..end], &rest[end + 1..]);
            let (negated, class) = match class.split_first() {
                Some((b'^', class)) => (true, class),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob(after, name_rest)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && glob(&rest[1..], &name[1..])
        }
        Some((&p, rest)) => name.first() == Some(&p) && glob(rest, &name[1..]),
    }
}

#[test]
fn the_matcher_follows_dockers_rules() {
    let ignore = DockerIgnore::parse(
        "# comment\n\ntarget/\n**/*.swp\n/docs/*.md\n!docs/keep.md\n**/.env\nlogs/[a-c]?.txt\n",
    );
    for (path, excluded) in [
        // `target/` is the root folder only, with everything in it.
        ("target", true),
        ("target/debug/ferry", true),
        ("app/src/target/mod.rs", false),
        // `**` matches no folder or many.
        ("a.swp", true),
        ("x/y/z/a.swp", true),
        ("a.swpx", false),
        (".env", true),
        ("deploy/docker/.env", true),
        ("deploy/docker/env.example", false),
        // `*` stays within one segment; an exception re-includes; the last match decides.
        ("docs/guide.md", true),
        ("docs/keep.md", false),
        ("docs/sub/guide.md", false),
        ("logs/b1.txt", true),
        ("logs/d1.txt", false),
        ("logs/b12.txt", false),
    ] {
        assert_eq!(ignore.excludes(path), excluded, "{path}");
    }
    // The pattern that broke the image: `**/target/` also drops any source folder named target.
    let broken = DockerIgnore::parse("**/target/\n");
    assert!(broken.excludes("app/src/target/mod.rs"));
    assert!(broken.excludes("target/release/ferry"));
}
