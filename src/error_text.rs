//! Error text for operators: an error with all its causes, scrubbed of the password of the URL
//! it came from. Drivers hide the useful part ("connection refused", "invalid peer
//! certificate") in a source, and may quote the connection string.
//!
//! Text only: it never decides whether an error is transient or permanent.

/// An error and its causes, `a: b: c`. An `io::Error` wrapping another error (as TLS stacks
/// report a refused certificate) shows that error too.
pub fn with_sources(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut push = |text: String| {
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    };
    let mut cur = Some(e);
    while let Some(err) = cur {
        // io::Error::source skips the error it wraps; get_ref does not.
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            push(inner.to_string());
        }
        cur = err.source();
        if let Some(next) = cur {
            push(next.to_string());
        }
    }
    out
}

/// `error` with the password of `url` (if it has one) replaced by `***`.
pub fn scrub(error: String, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(pw) if !pw.is_empty() => error.replace(&pw, "***"),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error performing TLS handshake")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn shows_the_wrapped_cause_and_hides_the_password() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        assert_eq!(
            with_sources(&e),
            "error performing TLS handshake: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(
            scrub("bad pw s3cret".into(), "postgres://u:s3cret@h/d"),
            "bad pw ***"
        );
    }
}
