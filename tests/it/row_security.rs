//! Row-level security, the wall behind the application's own tenant checks: hand-written SQL
//! as the runtime role sees and changes only the rows of the organization its connection's
//! scope names, and with no scope, no row at all.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use crate::common::TestApp;
use crate::db::{RUNTIME, as_role};

/// Tables whose rows name their organization, and the column that does.
const OWN_ROWS: &[(&str, &str)] = &[
    ("connections", "tenant_id"),
    ("tenant_settings", "tenant_id"),
    ("cnam_records", "tenant_id"),
    ("e911_records", "tenant_id"),
    ("approvals", "tenant_id"),
    ("port_requests", "tenant_id"),
    ("drift", "tenant_id"),
    ("reconcile_runs", "tenant_id"),
    ("idempotency_keys", "tenant_id"),
    ("provisioning_attempts", "tenant_id"),
    ("release_attempts", "tenant_id"),
    ("reroute_attempts", "tenant_id"),
    ("cart_items", "tenant_id"),
    ("reservations", "tenant_id"),
    ("number_assignments", "tenant_id"),
    ("sandbox_targets", "tenant_id"),
    ("sandbox_assignments", "tenant_id"),
    ("inventory_uploads", "org_id"),
    ("users", "org_id"),
    ("carriers", "org_id"),
    ("reseller_settings", "reseller_id"),
    ("audit_log", "tenant_id"),
    ("search_log", "tenant_id"),
    ("numbers", "tenant_id"),
    ("webhook_endpoints", "org_id"),
    ("webhook_events", "org_id"),
    ("identity_providers", "org_id"),
    ("ownership_checks", "org_id"),
    ("e911_addresses", "tenant_id"),
    ("e911_contacts", "tenant_id"),
];

/// Tables whose rows belong to a parent row: (table, its key to the parent, the parent table,
/// the parent's organization column).
const CHILD_ROWS: &[(&str, &str, &str, &str)] = &[
    ("holds", "reservation_id", "reservations", "tenant_id"),
    ("port_numbers", "port_id", "port_requests", "tenant_id"),
    ("port_events", "port_id", "port_requests", "tenant_id"),
    ("sessions", "user_id", "users", "org_id"),
    ("api_tokens", "user_id", "users", "org_id"),
    ("user_sign_ins", "user_id", "users", "org_id"),
    ("notifications", "user_id", "users", "org_id"),
    (
        "webhook_deliveries",
        "endpoint_id",
        "webhook_endpoints",
        "org_id",
    ),
    (
        "identity_provider_domains",
        "provider_id",
        "identity_providers",
        "org_id",
    ),
    (
        "inventory_upload_checked",
        "upload_id",
        "inventory_uploads",
        "org_id",
    ),
];

/// Tables with policies that name no organization: the tree itself (read by every scoped
/// caller, changed by the operator, and by a reseller for its tenants), the mail outbox
/// (queued by requests, read by the mail job) and the sign-ins under way at identity
/// providers (read and written by sign-in alone, before any caller is known).
const DIRECTORY: &[&str] = &["organizations", "outbox_emails", "sso_logins"];

/// Tables that hold organizations' data on purpose without a policy: an upload's raw staging
/// rows, since PostgreSQL refuses COPY into a table with a policy. (The organizations
/// themselves name no organization column.)
const WITHOUT_POLICY: &[&str] = &["inventory_upload_rows"];

/// A connection of the runtime role whose scope is set by hand (None: never set).
async fn runtime(pool: &PgPool, scope: Option<(&str, Option<Uuid>, &str)>) -> PgConnection {
    let mut conn = PgConnection::connect_with(&as_role(&pool.connect_options(), RUNTIME))
        .await
        .unwrap();
    if let Some((scope, org, kind)) = scope {
        sqlx::query(
            "SELECT set_config('inward.scope', $1, false), set_config('inward.org', $2, false),
                    set_config('inward.kind', $3, false)",
        )
        .bind(scope)
        .bind(org.map(|o| o.to_string()).unwrap_or_default())
        .bind(kind)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn
}

async fn count(conn: impl sqlx::PgExecutor<'_>, sql: &str, org: Option<Uuid>) -> i64 {
    sqlx::query_scalar(sql)
        .bind(org)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows of globex (and its reseller, acme) in as many tenant tables as the API can fill.
async fn globex_everywhere(app: &TestApp) {
    let admin = app.api("admin@globex.test").await;
    // An endpoint that hears of everything below (and never answers: port 9 is closed).
    let (status, body) = admin
        .post(
            "/api/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["number.reserved", "number.provisioned", "cnam.status_changed"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let numbers = admin.provisioned(3).await;
    let (status, body) = admin
        .put(
            &format!("/api/v1/numbers/{}/cnam", numbers[0]),
            json!({ "name": "GLOBEX" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin
        .put(
            &format!("/api/v1/numbers/{}/e911", numbers[0]),
            json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = admin
        .put(
            &format!("/api/v1/inventory/{}/assignment", numbers[1]),
            json!({ "kind": "user", "assignee": "Ada" }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) = admin
        .post(
            &format!("/api/v1/numbers/{}/release", numbers[2]),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let support = admin.target_id("queue", "Support").await;
    let (status, body) = admin
        .post(
            &format!("/api/v1/numbers/{}/reroute", numbers[1]),
            json!({ "target": { "type": "queue", "id": support } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin.post("/api/v1/drift/run", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    crate::porting::submitted_port(&admin, &["+13126200101"], "1234").await;
    app.browser("admin@globex.test").await;
    crate::sso::unanswered_globex_provider(app).await;
    let reseller = app.api("reseller@acme.test").await;
    let (status, body) = reseller
        .put(
            "/api/v1/reseller/settings",
            json!({ "aging_days": 30, "acknowledge_short_aging": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = reseller
        .post(
            "/api/v1/inventory/carriers",
            json!({ "kind": "voice", "name": "Acme Voice" }),
        )
        .await;
    assert!(status.is_success(), "{body}");
    app.assert_flushed_search_count(1).await;
    let spare = admin.find("npa=718", 1).await;
    let (status, body) = admin
        .post("/api/v1/cart/items", json!({ "numbers": spare }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The tenant next door holds a number of its own.
    let initech = app.api("agent@initech.test").await;
    let mine = initech.find("npa=512", 1).await;
    assert_eq!(initech.reserve(&mine).await.0, StatusCode::CREATED);
}

/// Every table that names an organization has a policy, but for the two kept without one on
/// purpose; a new table cannot slip past.
#[test]
fn every_table_that_names_an_organization_has_a_policy() {
    crate::db::db_test(|pool| async move {
        let unprotected: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT c.relname::text FROM pg_class c
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
               AND (a.attname IN ('tenant_id', 'org_id', 'reseller_id', 'user_id', 'inventory_org_id'))
               AND NOT c.relrowsecurity
             ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut expected: Vec<String> = WITHOUT_POLICY.iter().map(|t| t.to_string()).collect();
        expected.sort();
        assert_eq!(unprotected, expected);
        let protected: Vec<String> = sqlx::query_scalar(
            "SELECT relname::text FROM pg_class
             WHERE relnamespace = 'public'::regnamespace AND relrowsecurity ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut listed: Vec<String> = OWN_ROWS
            .iter()
            .map(|(t, _)| t.to_string())
            .chain(CHILD_ROWS.iter().map(|(t, ..)| t.to_string()))
            .chain(DIRECTORY.iter().map(|t| t.to_string()))
            .collect();
        listed.sort();
        assert_eq!(
            protected, listed,
            "the tests below cover every protected table"
        );
    })
}

/// A runtime connection whose scope was never set reads no row of any protected table,
/// though each holds rows.
#[test]
fn without_a_scope_the_runtime_role_sees_no_row() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        globex_everywhere(&app).await;
        let mut conn = runtime(&pool, None).await;
        let mut filled = Vec::new();
        sqlx::query(
            "INSERT INTO outbox_emails (to_address, subject, body) VALUES ('a@b.test', 's', 'b')",
        )
        .execute(&pool)
        .await
        .unwrap();
        for table in OWN_ROWS
            .iter()
            .map(|(t, _)| *t)
            .chain(CHILD_ROWS.iter().map(|(t, ..)| *t))
            .chain(DIRECTORY.iter().copied())
        {
            let sql = format!("SELECT count(*) FROM {table} WHERE $1::uuid IS NULL");
            let there = count(&pool, &sql, None).await;
            assert_eq!(
                count(&mut conn, &sql, None).await,
                0,
                "{table}: seen without a scope"
            );
            if there > 0 {
                filled.push(table);
            }
        }
        conn.close().await.unwrap();
        // The available-number search's connections never carry a scope, even when the
        // task taking one has every scope there is.
        let offered = crate::common::as_jobs(async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM reservations")
                .fetch_one(&app.state.offer_pool)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(offered, 0);
        // They read the stock through its view, and nothing of the numbers' table itself.
        let (stock, table): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM numbers_in_stock), (SELECT count(*) FROM numbers)",
        )
        .fetch_one(&app.state.offer_pool)
        .await
        .unwrap();
        assert!(stock > 0, "the search's connections see the stock");
        assert_eq!(table, 0, "the search's connections see the numbers' table");
        // Each entry into a bypass is counted, by reason.
        inward::jobs::run_once(&app.state).await;
        let metrics = app.metrics_text().await;
        for reason in ["jobs", "authentication"] {
            assert!(
                metrics.contains(&format!("db_scope_bypass_total{{reason=\"{reason}\"}}")),
                "{reason} not counted"
            );
        }
        assert!(
            filled.len() >= 22,
            "only {} tables had rows: {filled:?}",
            filled.len()
        );
    })
}

/// As the tenant next door, table by table: none of globex's rows is visible, none can be
/// updated or deleted, a row cannot be written in globex's name nor moved to it.
#[test]
fn another_tenants_rows_are_invisible_and_unwritable_table_by_table() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        globex_everywhere(&app).await;
        let (globex, initech) = (
            app.tenant_id("globex").await,
            app.tenant_id("initech").await,
        );
        let mut conn = runtime(&pool, Some(("org", Some(initech), "tenant"))).await;
        let mut checked = Vec::new();
        for (table, column) in OWN_ROWS {
            let sql = format!("SELECT count(*) FROM {table} WHERE {column} = $1");
            if count(&pool, &sql, Some(globex)).await == 0 {
                continue;
            }
            checked.push(*table);
            assert_eq!(
                count(&mut conn, &sql, Some(globex)).await,
                0,
                "{table}: globex's rows seen"
            );
            if ["audit_log", "search_log"].contains(table) {
                continue; // no UPDATE or DELETE at all (see roles.rs)
            }
            for change in [
                format!("UPDATE {table} SET {column} = {column} WHERE {column} = $1"),
                format!("DELETE FROM {table} WHERE {column} = $1"),
            ] {
                let done = sqlx::query(&change)
                    .bind(globex)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{change}: {e}"));
                assert_eq!(done.rows_affected(), 0, "{change}");
            }
        }
        for (table, key, parent, column) in CHILD_ROWS {
            let keys = format!(
                "SELECT count(*) FROM {table} WHERE {key} IN (SELECT id FROM {parent} WHERE {column} = $1)"
            );
            if count(&pool, &keys, Some(globex)).await == 0 {
                continue;
            }
            checked.push(*table);
            let ids: Vec<Uuid> =
                sqlx::query_scalar(&format!("SELECT id FROM {parent} WHERE {column} = $1"))
                    .bind(globex)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let seen: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {table} WHERE {key} = ANY($1)"
            ))
            .bind(&ids)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert_eq!(seen, 0, "{table}: rows of globex's {parent} seen");
            let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE {key} = ANY($1)"))
                .bind(&ids)
                .execute(&mut conn)
                .await;
            if let Ok(done) = deleted {
                assert_eq!(done.rows_affected(), 0, "{table}: globex's rows deleted");
            }
        }
        assert!(
            checked.len() >= 18,
            "only {} tables had globex rows: {checked:?}",
            checked.len()
        );

        // Writing in globex's name, or moving one's own row to globex, is refused.
        for write in [
            "INSERT INTO tenant_settings (tenant_id) VALUES ($1)",
            "INSERT INTO sandbox_targets (id, tenant_id, kind, name) VALUES (gen_random_uuid(), $1, 'queue', 'Planted')",
            "UPDATE reservations SET tenant_id = $1",
        ] {
            let mut tx = conn.begin().await.unwrap();
            let outcome = sqlx::query(write).bind(globex).execute(&mut *tx).await;
            tx.rollback().await.unwrap();
            match outcome {
                Err(sqlx::Error::Database(e)) => {
                    assert_eq!(e.code().as_deref(), Some("42501"), "{write}: {e}")
                }
                other => panic!("{write} was not refused: {other:?}"),
            }
        }
        let own: i64 = count(
            &pool,
            "SELECT count(*) FROM reservations WHERE tenant_id = $1",
            Some(initech),
        )
        .await;
        assert!(own > 0, "the UPDATE above had a row of initech's to move");
        conn.close().await.unwrap();
    })
}

/// A reseller sees its tenants' rows and not another reseller's; an entry of the audit log
/// is visible only to the organizations it names.
#[test]
fn a_reseller_sees_its_tenants_and_no_other_resellers() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        globex_everywhere(&app).await;
        let globex = app.tenant_id("globex").await;
        let acme = app.tenant_id("acme").await;
        let telco = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO organizations (id, kind, parent_id, slug, name)
             VALUES ($1, 'reseller', '00000000-0000-0000-0000-000000000001', 'telco', 'Telco')",
        )
        .bind(telco)
        .execute(&pool)
        .await
        .unwrap();
        let reservations = "SELECT count(*) FROM reservations WHERE tenant_id = $1";
        let audit = "SELECT count(*) FROM audit_log WHERE tenant_id = $1";
        let everywhere = count(&pool, reservations, Some(globex)).await;
        assert!(everywhere > 0);

        let mut own = runtime(&pool, Some(("org", Some(acme), "reseller"))).await;
        assert_eq!(
            count(&mut own, reservations, Some(globex)).await,
            everywhere
        );
        assert_eq!(
            count(&mut own, audit, Some(globex)).await,
            count(&pool, audit, Some(globex)).await
        );
        own.close().await.unwrap();

        let mut other = runtime(&pool, Some(("org", Some(telco), "reseller"))).await;
        assert_eq!(count(&mut other, reservations, Some(globex)).await, 0);
        assert_eq!(count(&mut other, audit, Some(globex)).await, 0);
        let settings = "SELECT count(*) FROM reseller_settings WHERE reseller_id = $1";
        assert_eq!(count(&mut other, settings, Some(acme)).await, 0);
        other.close().await.unwrap();

        // An unknown scope value is no scope.
        let mut odd = runtime(&pool, Some(("everything", None, ""))).await;
        assert_eq!(count(&mut odd, reservations, Some(globex)).await, 0);
        odd.close().await.unwrap();
    })
}

async fn refused(conn: &mut PgConnection, sql: &str, org: Uuid) {
    let mut tx = conn.begin().await.unwrap();
    let outcome = sqlx::query(sql).bind(org).execute(&mut *tx).await;
    tx.rollback().await.unwrap();
    match outcome {
        Err(sqlx::Error::Database(e)) => {
            assert_eq!(e.code().as_deref(), Some("42501"), "{sql}: {e}")
        }
        other => panic!("{sql} was not refused: {other:?}"),
    }
}

async fn touches_nothing(conn: &mut PgConnection, sql: &str, org: Option<Uuid>) {
    let mut tx = conn.begin().await.unwrap();
    let done = sqlx::query(sql)
        .bind(org)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.rollback().await.unwrap();
    assert_eq!(done.rows_affected(), 0, "{sql}");
}

/// What a caller reads of others it may not change: a tenant its reseller's settings and
/// carriers and the platform's carriers; a reseller its tenants' users. Nor may anyone log in
/// another organization's name, reshape the tree, or read the mail outbox.
#[test]
fn what_is_read_across_organizations_is_not_writable() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        globex_everywhere(&app).await;
        let (globex, initech, acme) = (
            app.tenant_id("globex").await,
            app.tenant_id("initech").await,
            app.tenant_id("acme").await,
        );
        let mut tenant = runtime(&pool, Some(("org", Some(globex), "tenant"))).await;
        sqlx::query("SELECT set_config('inward.parent', $1, false)")
            .bind(acme.to_string())
            .execute(&mut tenant)
            .await
            .unwrap();
        let settings = "SELECT count(*) FROM reseller_settings WHERE reseller_id = $1";
        assert_eq!(
            count(&mut tenant, settings, Some(acme)).await,
            1,
            "its reseller's aging rule is read"
        );
        let platform = "SELECT count(*) FROM carriers WHERE org_id IS NULL AND $1::uuid IS NULL";
        assert!(
            count(&mut tenant, platform, None).await > 0,
            "the platform's carriers are read"
        );
        touches_nothing(
            &mut tenant,
            "DELETE FROM reseller_settings WHERE reseller_id = $1",
            Some(acme),
        )
        .await;
        touches_nothing(
            &mut tenant,
            "UPDATE carriers SET name = name || '!' WHERE org_id = $1",
            Some(acme),
        )
        .await;
        touches_nothing(
            &mut tenant,
            "DELETE FROM carriers WHERE org_id IS NULL AND $1::uuid IS NULL",
            None,
        )
        .await;
        refused(
            &mut tenant,
            "INSERT INTO audit_log (tenant_id, action, status) VALUES ($1, 'RELEASE', 'SUCCESS')",
            initech,
        )
        .await;
        refused(
            &mut tenant,
            "INSERT INTO search_log (tenant_id, status) VALUES ($1, 'SUCCESS')",
            initech,
        )
        .await;
        touches_nothing(
            &mut tenant,
            "UPDATE organizations SET name = name WHERE id = $1",
            Some(globex),
        )
        .await;
        touches_nothing(
            &mut tenant,
            "DELETE FROM outbox_emails WHERE $1::uuid IS NULL",
            None,
        )
        .await;
        refused(
            &mut tenant,
            "UPDATE organizations SET parent_id = $1 WHERE slug = 'globex'",
            acme,
        )
        .await;
        tenant.close().await.unwrap();

        let mut reseller = runtime(&pool, Some(("org", Some(acme), "reseller"))).await;
        let users = "SELECT count(*) FROM users WHERE org_id = $1";
        assert!(
            count(&mut reseller, users, Some(globex)).await > 0,
            "its tenants' users are read"
        );
        touches_nothing(
            &mut reseller,
            "UPDATE users SET email = email WHERE org_id = $1",
            Some(globex),
        )
        .await;
        refused(
            &mut reseller,
            "INSERT INTO users (id, org_id, email, role, password_hash) VALUES (gen_random_uuid(), $1, 'mint@globex.test', 'tenant_admin', 'x')",
            globex,
        )
        .await;
        refused(
            &mut reseller,
            "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at)
             SELECT '\\x01', id, 'x', now() + interval '1 day' FROM users WHERE org_id = $1 LIMIT 1",
            globex,
        )
        .await;
        // A reseller changes its tenants' settings in the tree, not their place in it.
        let done = sqlx::query("UPDATE organizations SET allow_external_numbers = allow_external_numbers WHERE id = $1")
            .bind(globex)
            .execute(&mut reseller)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        refused(
            &mut reseller,
            "UPDATE organizations SET kind = 'reseller' WHERE id = $1",
            globex,
        )
        .await;
        reseller.close().await.unwrap();
    })
}

/// A name and an address set while a number was only held go when the hold is cancelled; the
/// next tenant to hold it sets its own.
#[test]
fn what_an_earlier_holder_set_goes_with_its_hold() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        sqlx::query("UPDATE users SET role = 'tenant_admin' WHERE email = 'agent@initech.test'")
            .execute(&pool)
            .await
            .unwrap();
        let first = app.api("admin@globex.test").await;
        let next = app.api("agent@initech.test").await;
        let number = first.find("npa=512", 1).await;
        let (status, held) = first.reserve(&number).await;
        assert_eq!(status, StatusCode::CREATED, "{held}");
        let e164 = &number[0];
        let address = json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" });
        for api in [&first, &next] {
            let (status, body) = api
                .put(
                    &format!("/api/v1/numbers/{e164}/cnam"),
                    json!({ "name": "FIRST" }),
                )
                .await;
            if std::ptr::eq(api, &next) {
                assert_eq!(status, StatusCode::OK, "{body}");
                break;
            }
            assert_eq!(status, StatusCode::OK, "{body}");
            let (status, body) = api
                .put(&format!("/api/v1/numbers/{e164}/e911"), address.clone())
                .await;
            assert!(status.is_success(), "{body}");
            let (status, body) = api
                .delete(&format!(
                    "/api/v1/reservations/{}",
                    held["id"].as_str().unwrap()
                ))
                .await;
            assert!(status.is_success(), "{body}");
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM cnam_records WHERE e164 = $1")
                .bind(e164)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(left, 0, "the cancelled hold took its name with it");
            let (status, body) = next.reserve(&number).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (status, body) = next
            .put(&format!("/api/v1/numbers/{e164}/e911"), address)
            .await;
        assert!(status.is_success(), "{body}");
        let owners: Vec<Uuid> = sqlx::query_scalar(
            "SELECT tenant_id FROM cnam_records WHERE e164 = $1 UNION ALL SELECT tenant_id FROM e911_records WHERE e164 = $1",
        )
        .bind(e164)
        .fetch_all(&pool)
        .await
        .unwrap();
        let initech = app.tenant_id("initech").await;
        assert_eq!(
            owners,
            vec![initech, initech],
            "the earlier holder's rows are gone"
        );
    })
}

/// A connection of the runtime role scoped to a tenant, its reseller named as a request's is.
async fn tenant_scope(pool: &PgPool, tenant: Uuid, reseller: Uuid) -> PgConnection {
    let mut conn = runtime(pool, Some(("org", Some(tenant), "tenant"))).await;
    sqlx::query("SELECT set_config('inward.parent', $1, false)")
        .bind(reseller.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// The numbers follow the offer rule: a tenant sees its own numbers and the stock offered to
/// it, never another tenant's numbers, stock allocated to another tenant or a number aging
/// for the tenant that released it; it takes a number only for itself. The search's view
/// shows stock alone and cannot be written through; a reservation of a number another
/// tenant holds is still told apart from an unknown one.
#[test]
fn the_numbers_follow_the_offer_rule() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        let (globex, initech, acme) = (
            app.tenant_id("globex").await,
            app.tenant_id("initech").await,
            app.tenant_id("acme").await,
        );
        let theirs = app.api("admin@globex.test").await;
        let held = theirs.find("npa=512", 1).await;
        assert_eq!(theirs.reserve(&held).await.0, StatusCode::CREATED);
        let stock: Vec<String> = sqlx::query_scalar(
            "SELECT e164 FROM numbers WHERE tenant_id IS NULL AND lifecycle = 'available'
               AND allocated_tenant_id IS NULL AND inventory_org_id = '00000000-0000-0000-0000-000000000001'
             ORDER BY e164 LIMIT 3",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let (allocated, aging, offered) = (&stock[0], &stock[1], &stock[2]);
        sqlx::query("UPDATE numbers SET allocated_tenant_id = $2 WHERE e164 = $1")
            .bind(allocated)
            .bind(globex)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE numbers SET lifecycle = 'released', released_by = $2,
                    aging_until = now() + interval '30 days' WHERE e164 = $1",
        )
        .bind(aging)
        .bind(globex)
        .execute(&pool)
        .await
        .unwrap();

        let mut conn = tenant_scope(&pool, initech, acme).await;
        let seen = "SELECT count(*) FROM numbers WHERE e164 = $1";
        for (e164, why) in [
            (&held[0], "a number globex holds"),
            (allocated, "stock allocated to globex"),
            (aging, "a number aging for globex"),
        ] {
            let n: i64 = sqlx::query_scalar(seen)
                .bind(e164)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(n, 0, "{why} is seen by initech");
        }
        let n: i64 = sqlx::query_scalar(seen)
            .bind(offered)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1, "the stock offered to initech is seen");
        for change in [
            "UPDATE numbers SET display_name = 'mine' WHERE e164 = $1",
            "DELETE FROM numbers WHERE e164 = $1",
        ] {
            let done = sqlx::query(change)
                .bind(&held[0])
                .execute(&mut conn)
                .await
                .unwrap();
            assert_eq!(done.rows_affected(), 0, "{change}");
        }
        // A stock number is taken for oneself, never handed to another tenant, moved into
        // one's own inventory, or allocated; nor is stock made up for others to be offered.
        let give = format!("UPDATE numbers SET tenant_id = $1 WHERE e164 = '{offered}'");
        refused(&mut conn, &give, globex).await;
        let moved = format!("UPDATE numbers SET inventory_org_id = $1 WHERE e164 = '{offered}'");
        refused(&mut conn, &moved, initech).await;
        let allocated_to_self =
            format!("UPDATE numbers SET allocated_tenant_id = $1 WHERE e164 = '{offered}'");
        refused(&mut conn, &allocated_to_self, initech).await;
        let made_up = "INSERT INTO numbers (e164, country, kind, national, npa, nxx, region, inventory_org_id)
             SELECT '+15129990000', 'US', 'local', '5129990000', '512', '999', 'Austin, TX', '00000000-0000-0000-0000-000000000001'::uuid
             WHERE $1::uuid IS NOT NULL";
        refused(&mut conn, made_up, initech).await;
        let take = format!(
            "UPDATE numbers SET tenant_id = $1, lifecycle = 'reserved', reservation_id = gen_random_uuid() WHERE e164 = '{offered}'"
        );
        let mut tx = conn.begin().await.unwrap();
        let done = sqlx::query(&take)
            .bind(initech)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(done.rows_affected(), 1);

        // The offer facts name that someone holds a number, not who.
        let facts: Vec<(String, Option<Uuid>)> =
            sqlx::query_as("SELECT e164, tenant_id FROM number_offer_facts($1)")
                .bind(vec![held[0].clone(), offered.clone()])
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let mut expected = vec![
            (held[0].clone(), Some(Uuid::nil())),
            (offered.clone(), None),
        ];
        expected.sort();
        assert_eq!(facts, expected);

        // The stock view: stock alone, read-only, nothing without a scope.
        let in_view = "SELECT count(*) FROM numbers_in_stock WHERE e164 = $1";
        for (e164, expected) in [(&held[0], 0), (offered, 1)] {
            let n: i64 = sqlx::query_scalar(in_view)
                .bind(e164)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(n, expected, "{e164} in the stock view");
        }
        refused(
            &mut conn,
            "UPDATE numbers_in_stock SET tenant_id = $1",
            initech,
        )
        .await;
        conn.close().await.unwrap();
        let mut none = runtime(&pool, None).await;
        let n: i64 = sqlx::query_scalar(in_view)
            .bind(offered)
            .fetch_one(&mut none)
            .await
            .unwrap();
        assert_eq!(n, 0, "the stock view without a scope");
        none.close().await.unwrap();

        // Over the API: globex's number is taken, not unknown; the aging one is unknown.
        let mine = app.api("agent@initech.test").await;
        let (status, body) = mine.reserve(&held).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body.to_string().contains("Already taken"), "{body}");
        let (status, body) = mine.reserve(std::slice::from_ref(aging)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, body) = mine.reserve(std::slice::from_ref(offered)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    })
}

/// The rule behind it, whichever statement moves the number (here raw SQL as the owner): a
/// number released or deprovisioned loses what its tenant set; one that merely leaves a hold
/// keeps what the tenant it is allocated to set; a moved allocation drops the old tenant's.
#[test]
fn a_numbers_settings_follow_its_tenant_and_its_allocation() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        let globex = app.tenant_id("globex").await;
        let initech = app.tenant_id("initech").await;
        let number: String = sqlx::query_scalar(
            "SELECT e164 FROM numbers WHERE lifecycle = 'available' AND tenant_id IS NULL ORDER BY e164 LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let set = |holder: Uuid, allocated: Option<Uuid>, lifecycle: &'static str| {
            let pool = pool.clone();
            let number = number.clone();
            async move {
                sqlx::query(
                    "UPDATE numbers SET tenant_id = $2, allocated_tenant_id = $3, lifecycle = $4 WHERE e164 = $1",
                )
                .bind(&number)
                .bind(holder)
                .bind(allocated)
                .bind(lifecycle)
                .execute(&pool)
                .await
                .unwrap();
                sqlx::query(
                    "INSERT INTO cnam_records (e164, tenant_id, name, status) VALUES ($1, $2, 'GLOBEX', 'synced')",
                )
                .bind(&number)
                .bind(holder)
                .execute(&pool)
                .await
                .unwrap();
            }
        };
        let moved = |holder: Option<Uuid>, allocated: Option<Uuid>, lifecycle: &'static str| {
            let pool = pool.clone();
            let number = number.clone();
            async move {
                sqlx::query(
                    "UPDATE numbers SET tenant_id = $2, allocated_tenant_id = $3, lifecycle = $4 WHERE e164 = $1",
                )
                .bind(&number)
                .bind(holder)
                .bind(allocated)
                .bind(lifecycle)
                .execute(&pool)
                .await
                .unwrap();
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM cnam_records WHERE e164 = $1")
                    .bind(&number)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };

        set(globex, Some(globex), "orphaned").await;
        assert_eq!(moved(None, Some(globex), "released").await, 0, "released");

        set(globex, Some(globex), "orphaned").await;
        assert_eq!(
            moved(None, Some(globex), "available").await,
            1,
            "a lapsed hold keeps what the allocated tenant set"
        );
        assert_eq!(
            moved(None, Some(initech), "available").await,
            0,
            "the allocation moved to another tenant"
        );

        set(globex, None, "orphaned").await;
        assert_eq!(moved(None, None, "available").await, 0, "a lapsed hold");

        set(globex, None, "orphaned").await;
        assert_eq!(
            moved(Some(globex), None, "orphaned").await,
            1,
            "the same tenant keeps it"
        );
    })
}

/// The webhook functions that run with the owner's rights: only the triggers may write
/// events, and a test event goes only to one of the caller's own endpoints.
#[test]
fn webhook_functions_keep_to_the_callers_organization() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        let admin = app.api("admin@globex.test").await;
        let (status, body) = admin
            .post(
                "/api/v1/webhooks",
                json!({ "url": "http://127.0.0.1:9/hook", "events": ["number.reserved"] }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let endpoint: Uuid = body["id"].as_str().unwrap().parse().unwrap();
        let (globex, initech) = (
            app.tenant_id("globex").await,
            app.tenant_id("initech").await,
        );

        let mut other = runtime(&pool, Some(("org", Some(initech), "tenant"))).await;
        let made: Option<Uuid> = sqlx::query_scalar("SELECT webhook_send_test($1, '{}')")
            .bind(endpoint)
            .fetch_one(&mut other)
            .await
            .unwrap();
        assert_eq!(made, None, "a test event on another tenant's endpoint");
        let forged = sqlx::query(
            "SELECT webhook_emit('number.reserved', $1, '+15125550100', 'x', '{}', now())",
        )
        .bind(globex)
        .execute(&mut other)
        .await
        .unwrap_err();
        assert_eq!(
            forged.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("42501"),
            "{forged}"
        );
        other.close().await.unwrap();

        let mut own = runtime(&pool, Some(("org", Some(globex), "tenant"))).await;
        let made: Option<Uuid> = sqlx::query_scalar("SELECT webhook_send_test($1, '{}')")
            .bind(endpoint)
            .fetch_one(&mut own)
            .await
            .unwrap();
        assert!(made.is_some(), "its own endpoint");
        own.close().await.unwrap();
    })
}

/// An organization reads its identity provider and may make it required, nothing else: its
/// issuer, secret and domains are the operator's, even to a request that got past the
/// application's checks.
#[test]
fn an_organization_changes_only_whether_its_identity_provider_is_required() {
    crate::db::db_test(|pool| async move {
        let app = crate::common::spawn_app(pool.clone()).await;
        crate::sso::unanswered_globex_provider(&app).await;
        let globex = app.tenant_id("globex").await;
        let acme: Uuid = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = 'acme'")
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut conn = tenant_scope(&pool, globex, acme).await;
        let mine = "SELECT count(*) FROM identity_providers WHERE org_id = $1";
        assert_eq!(count(&mut conn, mine, Some(globex)).await, 1);
        for sql in [
            "UPDATE identity_providers SET issuer = 'https://evil.example' WHERE org_id = $1",
            "UPDATE identity_providers SET role_map = '{\"x\": \"tenant_admin\"}' WHERE org_id = $1",
            "INSERT INTO identity_provider_domains (domain, provider_id)
             SELECT 'gmail.com', id FROM identity_providers WHERE org_id = $1",
            "INSERT INTO identity_providers (id, org_id, name, issuer, client_id, client_secret_sealed)
             VALUES (gen_random_uuid(), $1, 'Mine', 'https://x.example', 'c', '\\x00')",
        ] {
            refused(&mut conn, sql, globex).await;
        }
        touches_nothing(
            &mut conn,
            "DELETE FROM identity_providers WHERE org_id = $1",
            Some(globex),
        )
        .await;
        let made = sqlx::query("UPDATE identity_providers SET required = true WHERE org_id = $1")
            .bind(globex)
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(made.rows_affected(), 1);
        conn.close().await.unwrap();
    })
}
