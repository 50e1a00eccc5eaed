//! The operator CLI, run as a real process against the test database.

use std::io::Write;
use std::process::{Command, Stdio};

pub(crate) fn inward(url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_inward"))
        .args(args)
        .env("DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn orgs_users_and_tokens_are_managed_from_the_cli() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let (ok, out) = inward(&url, &["migrate"], None);
        assert!(ok, "{out}");
        let (ok, out) = inward(
            &url,
            &[
                "orgs", "add", "--kind", "reseller", "--parent", "operator", "--slug", "telco",
                "--name", "Telco",
            ],
            None,
        );
        assert!(ok, "{out}");
        let (ok, out) = inward(
            &url,
            &[
                "orgs", "add", "--kind", "tenant", "--parent", "telco", "--slug", "shop", "--name",
                "Shop",
            ],
            None,
        );
        assert!(ok, "{out}");
        let (ok, out) = inward(
            &url,
            &[
                "orgs", "add", "--kind", "tenant", "--parent", "shop", "--slug", "bad", "--name",
                "Bad",
            ],
            None,
        );
        assert!(!ok && out.contains("belongs under a reseller"), "{out}");
        let allowed: Vec<String> =
            sqlx::query_scalar("SELECT allowed_countries FROM organizations WHERE slug = 'shop'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(allowed, ["US"], "new tenants get the US-only whitelist");

        let (ok, out) = inward(
            &url,
            &[
                "users",
                "add",
                "--org",
                "shop",
                "--role",
                "tenant_admin",
                "--email",
                "boss@shop.test",
            ],
            Some("a long enough password\n"),
        );
        assert!(ok, "{out}");
        let (ok, out) = inward(
            &url,
            &[
                "users",
                "add",
                "--org",
                "shop",
                "--role",
                "tenant_user",
                "--email",
                "short@shop.test",
            ],
            Some("short\n"),
        );
        assert!(!ok && out.contains("at least 12"), "{out}");
        let (ok, out) = inward(
            &url,
            &["tokens", "create", "--email", "boss@shop.test"],
            None,
        );
        assert!(ok, "{out}");
        let token = out.lines().next().unwrap().trim().to_string();
        assert!(token.starts_with("inw_"));
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM api_tokens WHERE token_hash = sha256($1::bytea)",
        )
        .bind(token.as_bytes())
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(stored, 1, "only the hash is stored");
        let plain: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM api_tokens WHERE encode(token_hash, 'escape') = $1",
        )
        .bind(&token)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(plain, 0);

        let (ok, out) = inward(
            &url,
            &[
                "tokens",
                "create",
                "--email",
                "boss@shop.test",
                "--name",
                "nightly sync",
                "--expires-in-days",
                "7",
            ],
            None,
        );
        assert!(ok, "{out}");
        let (ok, out) = inward(&url, &["tokens", "list", "--email", "boss@shop.test"], None);
        assert!(ok, "{out}");
        let line = out
            .lines()
            .find(|l| l.contains("nightly sync"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains("used never"), "{line}");
        let id = line.split_whitespace().next().unwrap().to_string();
        let (ok, out) = inward(&url, &["tokens", "revoke", "--id", &id], None);
        assert!(ok && out.contains("nightly sync"), "{out}");
        let (ok, out) = inward(&url, &["tokens", "list"], None);
        assert!(ok && !out.contains("nightly sync"), "{out}");
        let (ok, out) = inward(&url, &["tokens", "revoke", "--id", &id], None);
        assert!(!ok && out.contains("no API token"), "{out}");
    })
}

#[test]
fn bench_refuses_an_unknown_scenario_before_touching_data() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let (ok, out) = inward(
            &url,
            &["bench", "--destroy-data", "--only", "search,dance"],
            None,
        );
        assert!(!ok, "{out}");
        assert!(out.contains("unknown scenario `dance`"), "{out}");
        let numbers: i64 = sqlx::query_scalar("SELECT count(*) FROM numbers")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(numbers, 0, "no inventory was generated");
    })
}

/// `inward sweep --orphans` runs the orphan check there and then: an orphan past its grace
/// period is deprovisioned, and the report says so.
#[test]
fn sweep_with_orphans_runs_the_orphan_check() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let app = crate::common::spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        sqlx::query(
            "UPDATE numbers SET lifecycle = 'orphaned', orphaned_at = now() - interval '400 days' WHERE e164 = $1",
        )
        .bind(&number)
        .execute(&app.pool)
        .await
        .unwrap();
        let (ok, out) = inward(&url, &["sweep"], None);
        assert!(ok, "{out}");
        assert_eq!(
            app.number_state(&number).await,
            "orphaned",
            "not without --orphans"
        );
        let (ok, out) = inward(&url, &["sweep", "--orphans"], None);
        assert!(ok, "{out}");
        assert!(out.contains("\"deprovisioned\":1"), "{out}");
        assert_eq!(app.number_state(&number).await, "deprovisioned");
    })
}

/// `inward reconcile` compares the tenant's numbers with its platform there and then, prints
/// one line per tenant and stores the differences for the Drift page.
#[test]
fn reconcile_reports_and_stores_the_differences_of_one_tenant() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let app = crate::common::spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        // Behind Inward's back, the sandbox stops routing the number.
        sqlx::query("DELETE FROM sandbox_assignments WHERE e164 = $1")
            .bind(&number)
            .execute(&app.pool)
            .await
            .unwrap();
        let (ok, out) = inward(&url, &["reconcile", "--tenant", "globex"], None);
        assert!(ok, "{out}");
        let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(line["tenant"], "globex", "{out}");
        assert_eq!(line["differences"]["unrouted"], 1, "{out}");
        assert_eq!(out.lines().count(), 1, "only the tenant asked for: {out}");
        let (_, listed) = admin.get("/api/v1/drift").await;
        assert_eq!(
            listed["differences"][0]["number"],
            number.as_str(),
            "{listed}"
        );
        assert_eq!(listed["differences"][0]["class"], "unrouted");

        let (ok, out) = inward(&url, &["reconcile", "--tenant", "no-such-tenant"], None);
        assert!(!ok, "{out}");
        assert!(out.contains("no-such-tenant"), "{out}");
    })
}

/// The bench's memory scenario starts a real `inward serve` as the bench's own role, here
/// the schema owner's (which `serve` refuses unless told), and reports its resident memory.
#[test]
fn the_bench_memory_scenario_measures_a_real_serve_started_as_the_owner() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::url_as(&pool.connect_options(), crate::db::OWNER);
        let (ok, out) = inward(
            &url,
            &[
                "bench",
                "--destroy-data",
                "--numbers",
                "1000",
                "--only",
                "memory",
            ],
            None,
        );
        assert!(ok, "{out}");
        let line = out
            .lines()
            .find(|l| l.starts_with("VmRSS "))
            .unwrap_or_else(|| panic!("no memory figure: {out}"));
        let mib: f64 = line
            .trim_start_matches("VmRSS ")
            .trim_end_matches(" MiB")
            .parse()
            .unwrap_or_else(|_| panic!("{line}"));
        assert!(mib > 1.0, "a serving process has a resident set: {line}");
    })
}

/// The bench's pages scenario signs in through the form (with its token) and measures pages
/// that answer: every page request of the run succeeds, none is a redirect to sign in.
#[test]
fn the_bench_pages_scenario_signs_in_and_every_page_answers() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::url_as(&pool.connect_options(), crate::db::OWNER);
        let (ok, out) = inward(
            &url,
            &[
                "bench",
                "--destroy-data",
                "--numbers",
                "1000",
                "--clients",
                "2",
                "--seconds",
                "1",
                "--only",
                "pages",
            ],
            None,
        );
        assert!(ok, "{out}");
        for page in ["search results page", "numbers page", "inventory page"] {
            let line = out
                .lines()
                .find(|l| l.starts_with(page) && l.contains("req/s"))
                .unwrap_or_else(|| panic!("no figure for the {page}: {out}"));
            assert!(line.contains(", 0 errors)"), "{line}");
        }
    })
}
