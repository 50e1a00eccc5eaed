//! The tamper-evident audit chain, attacked the way a database administrator could: with the
//! triggers switched off (`session_replication_role = replica`), an entry altered, deleted,
//! forged or two swapped, and a seal deleted. `inward audit verify` must report each at the
//! right sequence number; an export verifies on its own; and entries written at once by many
//! clients through two server processes form one unbroken chain.

use inward::audit::chain;
use sqlx::PgPool;

/// Runs hand-written SQL with the triggers off, as a superuser can.
async fn behind_the_back(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn entry_of(pool: &PgPool, seq: i64) -> i64 {
    sqlx::query_scalar("SELECT entry_id FROM audit_seals WHERE seq = $1")
        .bind(seq)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The head once every entry written so far is sealed (as the servers' sealers do within a
/// fraction of a second).
async fn sealed_head(pool: &PgPool) -> (i64, Vec<u8>) {
    chain::seal_pending(pool).await.unwrap();
    chain::head(pool).await.unwrap()
}

async fn broken_at(pool: &PgPool) -> Option<(i64, String)> {
    chain::verify(pool, 1, None)
        .await
        .unwrap()
        .err()
        .map(|b| (b.seq, b.problem))
}

fn inward(url: &str, args: &[&str]) -> (bool, String) {
    crate::cli::inward(url, args, None)
}

#[test]
fn each_kind_of_tampering_is_reported_at_its_sequence_number() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let app = crate::common::spawn_app(pool.clone()).await;
        let admin = app.api("admin@globex.test").await;
        admin.provisioned(3).await;
        let (head, _) = sealed_head(&pool).await;
        assert!(head >= 6, "{head} entries sealed");
        let (ok, out) = inward(&url, &["audit", "verify"]);
        assert!(ok, "{out}");
        assert!(out.contains(&format!("\"verified_to\":{head}")), "{out}");

        // Altered: one entry's outcome rewritten.
        let third = entry_of(&pool, 3).await;
        behind_the_back(
            &pool,
            &format!("CREATE TABLE kept AS SELECT * FROM audit_log WHERE id = {third}"),
        )
        .await;
        behind_the_back(
            &pool,
            &format!("UPDATE audit_log SET status = 'FAILURE' WHERE id = {third}"),
        )
        .await;
        let (seq, problem) = broken_at(&pool).await.expect("altered");
        assert_eq!(seq, 3, "{problem}");
        assert!(problem.contains("does not match its seal"), "{problem}");
        let (ok, out) = inward(&url, &["audit", "verify"]);
        assert!(!ok, "{out}");
        assert!(out.contains("\"broken_at\":3"), "{out}");
        behind_the_back(
            &pool,
            &format!(
                "DELETE FROM audit_log WHERE id = {third}; INSERT INTO audit_log SELECT * FROM kept"
            ),
        )
        .await;
        assert_eq!(broken_at(&pool).await, None, "restored");

        // Deleted: the entry goes, its seal stays.
        behind_the_back(&pool, &format!("DELETE FROM audit_log WHERE id = {third}")).await;
        let (seq, problem) = broken_at(&pool).await.expect("deleted");
        assert_eq!(seq, 3, "{problem}");
        assert!(problem.contains("gone"), "{problem}");
        behind_the_back(&pool, "INSERT INTO audit_log SELECT * FROM kept").await;
        assert_eq!(broken_at(&pool).await, None, "restored");

        // Swapped: two entries trade their actions.
        let (fourth, fifth) = (entry_of(&pool, 4).await, entry_of(&pool, 5).await);
        behind_the_back(&pool, &format!(
            "UPDATE audit_log a SET action = b.action, phone_number = b.phone_number, details = b.details
             FROM audit_log b WHERE (a.id, b.id) IN (({fourth}, {fifth}), ({fifth}, {fourth}))"
        )).await;
        let (seq, problem) = broken_at(&pool).await.expect("swapped");
        assert_eq!(seq, 4, "{problem}");
    })
}

#[test]
fn a_forged_entry_and_a_deleted_seal_are_reported_at_their_sequence_numbers() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        app.api("admin@globex.test").await.provisioned(2).await;
        let (head, _) = sealed_head(&pool).await;
        behind_the_back(&pool, "INSERT INTO audit_log (action, status, details) VALUES ('RELEASE', 'SUCCESS', '{\"forged\": true}')").await;
        let (seq, problem) = broken_at(&pool).await.expect("forged");
        assert_eq!(seq, head + 1, "{problem}");
        assert!(problem.contains("has no seal"), "{problem}");
        behind_the_back(&pool, "DELETE FROM audit_log WHERE details ? 'forged'").await;
        assert_eq!(broken_at(&pool).await, None, "forgery removed");
        behind_the_back(&pool, "DELETE FROM audit_seals WHERE seq = 2").await;
        let (seq, problem) = broken_at(&pool).await.expect("seal deleted");
        assert_eq!(seq, 2, "{problem}");
        assert!(problem.contains("missing"), "{problem}");
    })
}

#[test]
fn an_export_verifies_on_its_own_and_an_edited_export_does_not() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        let app = crate::common::spawn_app(pool.clone()).await;
        app.api("admin@globex.test").await.provisioned(2).await;
        let dir = std::env::temp_dir().join(format!("inward-export-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("audit.jsonl");
        let path = file.to_str().unwrap();
        let (ok, out) = inward(&url, &["audit", "export", "--from", "2", "--out", path]);
        assert!(ok, "{out}");
        let (head, head_hash) = sealed_head(&pool).await;
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().count() as i64, head - 1, "seals 2..={head}");
        let (ok, out) = inward(&url, &["audit", "verify", "--file", path]);
        assert!(ok, "{out}");
        assert!(
            out.contains(&chain::hex(&head_hash)),
            "ends in the database's head: {out}"
        );

        let edited = text.replacen("\"SUCCESS\"", "\"FAILURE\"", 1);
        assert_ne!(edited, text);
        std::fs::write(&file, edited).unwrap();
        let (ok, out) = inward(&url, &["audit", "verify", "--file", path]);
        assert!(!ok, "{out}");
        assert!(out.contains("does not match its seal"), "{out}");
        std::fs::remove_dir_all(&dir).unwrap();
    })
}

/// 16 clients, half on each of two `inward serve` processes, hold and let go of numbers until
/// 10,000 entries exist; every entry is sealed once and the chain verifies clean.
/// Writers never wait on the chain: while a sealer holds the chain's head (as one does
/// while it seals), holds are still taken and audited, their entries wait in the queue, and
/// once the head is free they are sealed in id order and the chain verifies.
#[test]
fn a_sealer_holding_the_head_holds_up_no_writer() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        let api = app.api("agent@globex.test").await;
        let (before, _) = sealed_head(&pool).await;
        let mut sealer = pool.begin().await.unwrap();
        sqlx::query("SELECT seq FROM audit_chain_head WHERE one FOR UPDATE")
            .execute(&mut *sealer)
            .await
            .unwrap();
        let numbers = api.find("npa=512", 3).await;
        for number in &numbers {
            let reserved = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                api.reserve(std::slice::from_ref(number)),
            )
            .await
            .expect("a hold waited on the chain's head");
            assert_eq!(reserved.0, reqwest::StatusCode::CREATED, "{}", reserved.1);
        }
        let queued: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_unsealed u JOIN audit_log e ON e.id = u.entry_id
             WHERE e.action = 'RESERVE' AND e.phone_number = ANY($1)",
        )
        .bind(&numbers)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(queued, 3, "each hold's entry waits for its seal");
        sealer.rollback().await.unwrap();
        let (after, _) = sealed_head(&pool).await;
        assert!(after >= before + 3, "{before} -> {after}");
        let verified = chain::verify(&pool, 1, None).await.unwrap().unwrap();
        assert_eq!(verified.verified_to, after);
    })
}

/// The queue cannot stop the chain or hide a removal: an id queued twice is sealed once, and
/// an entry removed behind the chain's back before its seal is still sealed, and reported
/// gone at that seal.
#[test]
fn an_entry_removed_before_its_seal_is_reported_and_a_bad_queue_row_is_dropped() {
    crate::db::db_test(|pool| async move {
        sqlx::query("INSERT INTO audit_log (action, status) VALUES ('LOGIN', 'SUCCESS'), ('LOGIN', 'FAILURE')")
            .execute(&pool)
            .await
            .unwrap();
        let (sealed, _) = sealed_head(&pool).await;
        let first = entry_of(&pool, sealed - 1).await;
        behind_the_back(
            &pool,
            &format!("INSERT INTO audit_unsealed (entry_id) VALUES ({first})"),
        )
        .await;
        sqlx::query("INSERT INTO audit_log (action, status, details) VALUES ('LOGIN', 'SUCCESS', '{\"removed\": true}')")
            .execute(&pool)
            .await
            .unwrap();
        behind_the_back(&pool, "DELETE FROM audit_log WHERE details ? 'removed'").await;
        let (head, _) = sealed_head(&pool).await;
        assert_eq!(
            head,
            sealed + 1,
            "the id sealed before was dropped, the removed entry sealed"
        );
        let (seq, problem) = broken_at(&pool).await.expect("the removal is reported");
        assert_eq!(seq, head, "{problem}");
        assert!(problem.contains("is gone"), "{problem}");
    })
}

#[test]
fn ten_thousand_entries_from_two_processes_form_one_unbroken_chain() {
    crate::db::db_test(|pool| async move {
        let url = crate::db::runtime_url(&pool.connect_options());
        inward::seed::demo(&pool, 4, Some(&["512", "317", "212", "303"]))
            .await
            .unwrap();
        let instances = crate::multi_instance::start(&url, 2);
        let token = inward::admin::create_token(&pool, "agent@globex.test")
            .await
            .unwrap();
        let http = reqwest::Client::new();
        // Under a loaded machine a request may wait out the pool (503) or a one-second hold
        // may lapse before its cancel: those answers are the load's, not the chain's, so a
        // client moves on; what this test judges is the chain written meanwhile.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        let mut clients = Vec::new();
        for i in 0..16 {
            let base = instances.bases[i % 2].clone();
            let (http, token, pool) = (http.clone(), token.clone(), pool.clone());
            clients.push(tokio::spawn(async move {
                let npa = ["512", "317", "212", "303"][i % 4];
                let mut round = 0usize;
                let mut cancelled = 0usize;
                loop {
                    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    if count >= 10_000 {
                        break;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "only {count} entries after ten minutes; client {i} cancelled {cancelled}"
                    );
                    let found = http
                        .get(format!(
                            "{base}/api/v1/numbers/available?npa={npa}&limit=20"
                        ))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    if found.status() != reqwest::StatusCode::OK {
                        assert_eq!(found.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                    let found: serde_json::Value = found.json().await.unwrap();
                    let numbers: Vec<String> = found["numbers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|n| n["e164"].as_str().map(str::to_string))
                        .collect();
                    for _ in 0..10 {
                        round += 1;
                        let Some(number) = numbers.get((round * 7 + i) % numbers.len().max(1))
                        else {
                            break;
                        };
                        let held = http
                            .post(format!("{base}/api/v1/reservations"))
                            .bearer_auth(&token)
                            .json(&serde_json::json!({ "numbers": [number] }))
                            .send()
                            .await
                            .unwrap();
                        if held.status() != reqwest::StatusCode::CREATED {
                            continue; // another client holds it, or the pool was busy
                        }
                        let held: serde_json::Value = held.json().await.unwrap();
                        let id = held["id"].as_str().unwrap();
                        let status = http
                            .delete(format!("{base}/api/v1/reservations/{id}"))
                            .bearer_auth(&token)
                            .send()
                            .await
                            .unwrap()
                            .status();
                        if status.is_success() {
                            cancelled += 1;
                        } else {
                            assert!([410, 503].contains(&status.as_u16()), "cancel: {status}");
                        }
                    }
                }
                cancelled
            }));
        }
        let mut cancelled = 0;
        for client in clients {
            cancelled += client.await.unwrap();
        }
        drop(instances);
        assert!(
            cancelled > 1_000,
            "holds really were taken and cancelled: {cancelled}"
        );
        // Entries the killed servers wrote but did not seal are still queued, and are
        // sealed by whoever seals next.
        chain::seal_pending(&pool).await.unwrap();
        let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
            .fetch_one(&pool)
            .await
            .unwrap();
        let seals: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_seals")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(entries >= 10_000, "{entries}");
        assert_eq!(seals, entries, "each entry sealed once");
        let verified = chain::verify(&pool, 1, None).await.unwrap().unwrap();
        assert_eq!(verified.verified_to, entries);
        let (ok, out) = inward(&url, &["audit", "verify"]);
        assert!(ok, "{out}");
    })
}

/// The background sweep verifies what was sealed since its last pass; the audit page, the
/// API and /metrics say how far the chain is verified, and a break stays reported.
#[test]
fn the_sweep_verifies_the_chain_and_the_page_api_and_metrics_show_it() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        let admin = app.api("admin@globex.test").await;
        admin.provisioned(2).await;
        inward::jobs::run_once(&app.state).await;
        let (head, hash) = sealed_head(&pool).await;

        let operator = app.api("operator@inward.test").await;
        let (status, body) = operator.get("/api/v1/audit/chain").await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        assert_eq!(body["head"]["seq"], head, "{body}");
        assert_eq!(body["last_verification"]["verified_to"], head, "{body}");
        assert_eq!(body["last_verification"]["head_hash"], chain::hex(&hash));
        let (status, _) = admin.get("/api/v1/audit/chain").await;
        assert_eq!(status, reqwest::StatusCode::FORBIDDEN);

        let (_, page) = app
            .browser("operator@inward.test")
            .await
            .get("/audit")
            .await;
        assert!(
            page.contains(&format!("verified intact up to entry {head}")),
            "{page}"
        );
        let (_, page) = app.browser("admin@globex.test").await.get("/audit").await;
        assert!(page.contains("verified intact at"), "{page}");
        assert!(
            !page.contains("up to entry"),
            "no global counts for a tenant"
        );

        let metrics = app.metrics_text().await;
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("audit_chain_sequence ")),
            "{metrics}"
        );

        // An entry already verified is altered: the sweep's passes check only what is new;
        // a full verification (`inward audit verify`) finds it, and the page then says so.
        let first = entry_of(&pool, 1).await;
        behind_the_back(
            &pool,
            &format!("UPDATE audit_log SET status = 'FAILURE' WHERE id = {first}"),
        )
        .await;
        let (_, page) = app
            .browser("operator@inward.test")
            .await
            .get("/audit")
            .await;
        assert!(page.contains("verified intact"), "not yet checked");
        let outcome = chain::verify_new(&pool).await.unwrap();
        assert_eq!(
            outcome,
            Ok(chain::Verified {
                verified_to: head,
                head: hash.clone()
            }),
            "nothing new to check"
        );
        admin.provisioned(1).await;
        let (status, _) = operator.get("/api/v1/audit/chain").await;
        assert_eq!(status, reqwest::StatusCode::OK);
        let full = chain::verify(&pool, 1, None).await.unwrap();
        assert_eq!(
            full.as_ref().unwrap_err().seq,
            1,
            "a full verification finds the altered entry"
        );
        chain::record(&pool, &full).await.unwrap();
        let (_, page) = app
            .browser("operator@inward.test")
            .await
            .get("/audit")
            .await;
        assert!(
            page.contains("The audit chain is broken at entry 1"),
            "{page}"
        );
    })
}
