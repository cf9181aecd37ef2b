//! The web dashboard against the release binary: its server side over raw HTTP (sign-in,
//! cookie, CSRF, security headers, sign-out), then the whole page in Debian's headless
//! Chromium (`tests/e2e/dashboard.mjs`, driven by playwright-core). The browser run saves
//! screenshots of the main pages to `target/dashboard-screenshots/`, or to `docs/screenshots/`
//! (the ones the README shows) with `UPDATE_SCREENSHOTS=1`.

mod common;

use serde_json::{Value, json};

fn start() -> (std::process::Child, String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dash.redb");
    let key = common::create_key(&db, &["--name", "admin", "--management"]);
    let (child, url) = common::serve_http_quiet(&db, &[]);
    let base = url.trim_end_matches("/mcp").to_owned();
    (child, base, key, dir)
}

fn header<'a>(r: &'a common::RawResponse, name: &str) -> &'a str {
    r.header(name).unwrap_or("")
}

#[test]
fn sign_in_gives_an_http_only_cookie_and_mutations_need_the_csrf_token() {
    let (mut server, base, key, _dir) = start();
    let json_h = || vec![("content-type", "application/json".to_owned())];

    // The page: a strict CSP, no framing; `/` redirects to it; an unknown asset is a 404.
    let page = common::http(&format!("{base}/dashboard/"), "GET", &[], "");
    assert_eq!(page.status, 200);
    let csp = header(&page, "content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    assert!(!page.body.contains("<script>"), "no inline script");
    let root = common::http(&format!("{base}/"), "GET", &[], "");
    assert_eq!(
        (root.status, header(&root, "location")),
        (303, "/dashboard/")
    );
    for (asset, ty) in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("chart.umd.min.js", "text/javascript"),
    ] {
        let r = common::http(&format!("{base}/dashboard/assets/{asset}"), "GET", &[], "");
        assert_eq!(r.status, 200, "{asset}");
        assert!(header(&r, "content-type").starts_with(ty), "{asset}");
    }
    let missing = common::http(&format!("{base}/dashboard/assets/x.js"), "GET", &[], "");
    assert_eq!(missing.status, 404);

    // Sign-in: a bad body names the field; an unknown key is a 401; an inference key a 403.
    let url = format!("{base}/dashboard/session");
    let form = vec![("content-type", "text/plain".to_owned())];
    let r = common::http(&url, "POST", &form, &json!({ "key": key }).to_string());
    assert_eq!(
        r.status, 415,
        "a cross-site form cannot sign in: {}",
        r.body
    );
    assert!(r.header("set-cookie").is_none());
    let r = common::http(&url, "POST", &json_h(), r#"{"secret":"x"}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"]["metadata"]["field"], json!("body.key"));
    let r = common::http(&url, "POST", &json_h(), r#"{"key":"mg-v1-00"}"#);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.header("set-cookie").is_none());

    let r = common::http(&url, "POST", &json_h(), &json!({ "key": key }).to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = header(&r, "set-cookie").to_owned();
    for part in [
        "mg_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(cookie.contains(part), "{part}: {cookie}");
    }
    assert!(!cookie.contains(&key), "the key is not the cookie");
    assert!(!r.body.contains(&key), "the key is not echoed");
    let csrf = serde_json::from_str::<Value>(&r.body).unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let session = cookie.split(';').next().unwrap().to_owned();

    // The cookie opens the REST API (not MCP); writes need the token.
    let with = |csrf: Option<&str>| {
        let mut h = vec![
            ("cookie", session.clone()),
            ("content-type", "application/json".to_owned()),
        ];
        if let Some(t) = csrf {
            h.push(("x-csrf-token", t.to_owned()));
        }
        h
    };
    let r = common::http(&format!("{base}/api/v1/workspaces"), "GET", &with(None), "");
    assert_eq!(r.status, 200, "{}", r.body);
    let create = r#"{"name":"T","slug":"t"}"#;
    let r = common::http(
        &format!("{base}/api/v1/workspaces"),
        "POST",
        &with(None),
        create,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("X-CSRF-Token"), "{}", r.body);
    let r = common::http(
        &format!("{base}/api/v1/workspaces"),
        "POST",
        &with(Some("0".repeat(64).as_str())),
        create,
    );
    assert_eq!(r.status, 403, "a wrong token: {}", r.body);
    let listed = common::http(&format!("{base}/api/v1/workspaces"), "GET", &with(None), "");
    assert!(
        !listed.body.contains("\"slug\":\"t\""),
        "nothing was created"
    );
    let r = common::http(
        &format!("{base}/api/v1/workspaces"),
        "POST",
        &with(Some(&csrf)),
        create,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mcp = common::http(
        &format!("{base}/mcp"),
        "POST",
        &with(Some(&csrf)),
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    );
    assert_eq!(mcp.status, 401, "MCP takes bearer keys only");
    // A page of another site is refused before anything (its Origin is not allowed).
    let mut evil = with(Some(&csrf));
    evil.push(("origin", "https://evil.example".to_owned()));
    let r = common::http(&url, "GET", &evil, "");
    assert_eq!(r.status, 403, "{}", r.body);

    // After a reload the page gets its token back from the session.
    let r = common::http(&url, "GET", &with(None), "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&csrf));

    // Sign-out needs the token, ends the session and clears the cookie.
    let r = common::http(&url, "DELETE", &with(None), "");
    assert_eq!(r.status, 403);
    let r = common::http(&url, "DELETE", &with(Some(&csrf)), "");
    assert_eq!(r.status, 204);
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    let r = common::http(&format!("{base}/api/v1/workspaces"), "GET", &with(None), "");
    assert_eq!(r.status, 401, "{}", r.body);
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_disabled_key_ends_its_dashboard_sessions() {
    let (mut server, base, key, _dir) = start();
    let r = common::http(
        &format!("{base}/dashboard/session"),
        "POST",
        &[("content-type", "application/json".to_owned())],
        &json!({ "key": key }).to_string(),
    );
    let session = header(&r, "set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let bearer = vec![
        ("authorization", format!("Bearer {key}")),
        ("content-type", "application/json".to_owned()),
    ];
    // A second admin key disables the first; the first's session stops at once.
    let other = common::http(
        &format!("{base}/api/v1/keys"),
        "POST",
        &bearer,
        r#"{"name":"second","kind":"management"}"#,
    );
    assert_eq!(other.status, 201, "{}", other.body);
    let other: Value = serde_json::from_str(&other.body).unwrap();
    let second = other["key"].as_str().unwrap().to_owned();
    let keys = common::http(&format!("{base}/api/v1/keys"), "GET", &bearer, "");
    let keys: Value = serde_json::from_str(&keys.body).unwrap();
    let first = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "admin")
        .unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    // The second key disables (or enables) the first; the session's answer follows.
    let set_disabled = |disabled: bool| {
        let r = common::http(
            &format!("{base}/api/v1/keys/{first}"),
            "PATCH",
            &[
                ("authorization", format!("Bearer {second}")),
                ("content-type", "application/json".to_owned()),
            ],
            &json!({ "disabled": disabled }).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        common::http(
            &format!("{base}/api/v1/workspaces"),
            "GET",
            &[("cookie", session.clone())],
            "",
        )
    };
    let r = set_disabled(true);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("disabled"), "{}", r.body);
    // Enabling the key again does not bring the session back.
    let r = set_disabled(false);
    assert_eq!(r.status, 401, "{}", r.body);
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The dashboard in Debian's headless Chromium: sign-in, a workspace, rules and the route
/// box, a key's secret shown once, usage recorded through the API changing the totals and the
/// chart, a member who cannot see another workspace, 360 px, sign-out.
#[test]
fn the_dashboard_works_in_a_real_browser() {
    let root = common::setup_e2e();
    let (mut server, base, key, _dir) = start();
    let shots = if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        root.join("docs/screenshots")
    } else {
        root.join("target/dashboard-screenshots")
    };
    let out = std::process::Command::new(root.join("node_modules/.bin/node"))
        .arg(root.join("tests/e2e/dashboard.mjs"))
        .arg(&base)
        .arg(&key)
        .arg(&shots)
        .output()
        .expect("run node tests/e2e/dashboard.mjs");
    server.kill().unwrap();
    server.wait().unwrap();
    common::assert_e2e_passed("dashboard.mjs", &out);
    for page in [
        "sign-in",
        "workspaces",
        "workspace-edit",
        "routing",
        "members",
        "keys",
        "usage",
        "models",
    ] {
        assert!(shots.join(format!("{page}.png")).exists(), "{page}.png");
    }
}
