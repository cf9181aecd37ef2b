//! TLS to a real server, with libpq's `sslmode` meanings: `disable` is plain, `prefer` and
//! `require` encrypt without checking the certificate, `verify-ca` checks the chain against
//! `sslrootcert`, `verify-full` the host name too; bad TLS parameters are refused by name.
//!
//! Needs `MODELGATES_POSTGRES_URL` (see `store.rs`). The local server of the development and CI
//! machines has TLS on with Debian's self-signed "snakeoil" certificate, whose name is the
//! machine's host name — so `verify-full` to 127.0.0.1 must fail and `verify-ca` with that
//! certificate as the root must pass.

use modelgates_postgres::{PgError, PgOptions, PgStore};

fn url() -> Option<String> {
    match std::env::var("MODELGATES_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: the PostgreSQL suites need MODELGATES_POSTGRES_URL, e.g. \
                 MODELGATES_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test"
            );
            None
        }
    }
}

/// `base` with `params` added to its query string.
fn with(base: &str, params: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{params}")
}

fn open(url: &str) -> Result<PgStore, PgError> {
    // The tables exist already in `public` (other suites) or are created: harmless either way.
    PgStore::open_with(
        url,
        PgOptions {
            max_connections: 1,
            ..Default::default()
        },
    )
}

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[test]
fn sslmode_decides_whether_and_how_connections_are_encrypted() {
    let Some(base) = url() else { return };
    let plain = open(&with(&base, "sslmode=disable")).unwrap();
    assert_eq!(plain.encryption().unwrap(), None, "sslmode=disable");

    let preferred = open(&with(&base, "sslmode=prefer")).unwrap();
    let Some(version) = preferred.encryption().unwrap() else {
        // A server without TLS: `require` must say so rather than connect in the clear.
        let err = open(&with(&base, "sslmode=require")).unwrap_err();
        assert!(err.to_string().contains("TLS"), "{err}");
        eprintln!("this server has no TLS; only the refusal was checked");
        return;
    };
    assert!(version.starts_with("TLSv1."), "{version}");

    let required = open(&with(&base, "sslmode=require")).unwrap();
    assert_eq!(required.encryption().unwrap().as_deref(), Some(&*version));

    // The default is libpq's: prefer.
    let default = open(&base).unwrap();
    assert_eq!(default.encryption().unwrap().as_deref(), Some(&*version));

    // A self-signed certificate is not in the system's roots.
    let err = open(&with(&base, "sslmode=verify-full"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("certificate") || err.contains("TLS"), "{err}");

    if std::path::Path::new(SNAKEOIL).exists() {
        // The chain checks out against the server's own certificate as the root…
        let ca = open(&with(
            &base,
            &format!("sslmode=verify-ca&sslrootcert={SNAKEOIL}"),
        ));
        match ca {
            Ok(store) => {
                assert!(store.encryption().unwrap().is_some());
                // …and `require` with a root file checks the chain too (libpq), so it connects.
                let req = open(&with(
                    &base,
                    &format!("sslmode=require&sslrootcert={SNAKEOIL}"),
                ))
                .unwrap();
                assert!(req.encryption().unwrap().is_some());
                // …but the name (the machine's host name) is not 127.0.0.1.
                if base.contains("@127.0.0.1") {
                    let err = open(&with(
                        &base,
                        &format!("sslmode=verify-full&sslrootcert={SNAKEOIL}"),
                    ))
                    .unwrap_err()
                    .to_string();
                    assert!(err.contains("certificate"), "{err}");
                }
            }
            Err(e) => eprintln!("the server does not use {SNAKEOIL} ({e}); chain checks skipped"),
        }
    }
}

#[test]
fn bad_tls_parameters_are_refused_by_name() {
    // No server needed: these fail before connecting.
    let base = "postgres://postgres@127.0.0.1:1/test";
    let err = open(&with(base, "sslmode=sometimes"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sslmode=\"sometimes\""), "{err}");
    let err = open(&with(
        base,
        "sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/root.crt"), "{err}");
    let empty = tempfile_with("not a certificate\n");
    let err = open(&with(
        base,
        &format!("sslmode=verify-ca&sslrootcert={}", empty.display()),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("no PEM certificate"), "{err}");
    // The system's roots only with full verification (never a mode that may fall back).
    let err = open(&with(base, "sslmode=prefer&sslrootcert=system"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sslrootcert=system needs sslmode=verify-full"),
        "{err}"
    );
    let _ = std::fs::remove_file(empty);
}

fn tempfile_with(text: &str) -> std::path::PathBuf {
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).unwrap();
    let name: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let path = std::env::temp_dir().join(format!("mg-tls-{name}.pem"));
    std::fs::write(&path, text).unwrap();
    path
}
