//! One offer rule: over a matrix of numbers (each stock state, held numbers of every kind,
//! allocations, aging, other inventories, another country) the search, the one-statement
//! reservation, the full reservation path, and the rule's Rust and SQL forms all give the
//! answer the rule states.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use inward::numbers::offer::{self, FACTS_COLUMNS, Offer, OfferFacts};
use inward::reservations::quick;

use crate::common::{Api, TestApp, another_instance, spawn_app};

/// A number's situation, as seen by Globex; Initech is the other tenant.
#[derive(Debug, Clone, Copy)]
enum Case {
    Available,
    Released,
    Deprovisioned,
    AllocatedToOther,
    AllocatedToSelf,
    AgingForOther,
    AgingForSelf,
    AgingOver,
    OtherTenantsInventory,
    OwnInventory,
    OtherCountry,
    ReservedByOther,
    ActiveForOther,
    PendingForOther,
    OrphanedForOther,
    PortingInForOther,
}

const CASES: [Case; 16] = [
    Case::Available,
    Case::Released,
    Case::Deprovisioned,
    Case::AllocatedToOther,
    Case::AllocatedToSelf,
    Case::AgingForOther,
    Case::AgingForSelf,
    Case::AgingOver,
    Case::OtherTenantsInventory,
    Case::OwnInventory,
    Case::OtherCountry,
    Case::ReservedByOther,
    Case::ActiveForOther,
    Case::PendingForOther,
    Case::OrphanedForOther,
    Case::PortingInForOther,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Offered,
    Taken,
    OutsideRegion,
    Hidden,
}

impl Case {
    /// What the rule says (module docs of `numbers::offer`).
    fn expected(self) -> Answer {
        match self {
            Case::Available
            | Case::Released
            | Case::Deprovisioned
            | Case::AllocatedToSelf
            | Case::AgingForSelf
            | Case::AgingOver
            | Case::OwnInventory => Answer::Offered,
            Case::AllocatedToOther | Case::AgingForOther | Case::OtherTenantsInventory => {
                Answer::Hidden
            }
            Case::OtherCountry => Answer::OutsideRegion,
            Case::ReservedByOther
            | Case::ActiveForOther
            | Case::PendingForOther
            | Case::OrphanedForOther
            | Case::PortingInForOther => Answer::Taken,
        }
    }

    /// Puts an available number into this situation.
    async fn set_up(self, app: &TestApp, initech: &Api, e164: &str, me: Uuid, other: Uuid) {
        let held = "lifecycle = $2, tenant_id = $3, target_type = 'queue', target_id = 'q-1', target_name = 'Sales'";
        let (sql, state) = match self {
            Case::Available => return,
            Case::ReservedByOther => {
                let (status, body) = initech.reserve(&[e164.to_string()]).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                return;
            }
            Case::Released => ("lifecycle = $2", "released"),
            Case::Deprovisioned => ("lifecycle = $2", "deprovisioned"),
            Case::AllocatedToOther => ("allocated_tenant_id = $3", ""),
            Case::AllocatedToSelf => ("allocated_tenant_id = $4", ""),
            Case::AgingForOther => (
                "lifecycle = 'released', released_by = $3, released_at = now(), aging_until = now() + interval '3 days'",
                "",
            ),
            Case::AgingForSelf => (
                "lifecycle = 'released', released_by = $4, released_at = now(), aging_until = now() + interval '3 days'",
                "",
            ),
            Case::AgingOver => (
                "lifecycle = 'released', released_by = $3, released_at = now() - interval '4 days', aging_until = now() - interval '1 day'",
                "",
            ),
            Case::OtherTenantsInventory => ("inventory_org_id = $3", ""),
            Case::OwnInventory => ("inventory_org_id = $4", ""),
            Case::OtherCountry => ("country = 'GB'", ""),
            Case::ActiveForOther => (held, "active"),
            Case::PendingForOther => (held, "pending"),
            Case::OrphanedForOther => (held, "orphaned"),
            Case::PortingInForOther => ("lifecycle = $2, tenant_id = $3", "porting_in"),
        };
        sqlx::query(&format!(
            "UPDATE numbers SET {sql} WHERE e164 = $1 AND $2 = $2 AND $3 = $3 AND $4 = $4"
        ))
        .bind(e164)
        .bind(state)
        .bind(other)
        .bind(me)
        .execute(&app.pool)
        .await
        .unwrap();
    }
}

fn answer_of(offer: &Offer) -> Answer {
    match offer {
        Offer::Offered => Answer::Offered,
        Offer::Taken => Answer::Taken,
        Offer::OutsideRegion(_) => Answer::OutsideRegion,
        Offer::Hidden => Answer::Hidden,
    }
}

fn answer_of_status(status: StatusCode, body: &serde_json::Value) -> Answer {
    match status {
        s if s.is_success() => Answer::Offered,
        StatusCode::CONFLICT => Answer::Taken,
        StatusCode::FORBIDDEN => Answer::OutsideRegion,
        StatusCode::NOT_FOUND => Answer::Hidden,
        other => panic!("unexpected {other}: {body}"),
    }
}

#[test]
fn search_both_reservation_paths_and_both_forms_of_the_rule_agree() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        // The full path decides premium numbers: on this instance the numbers below are
        // premium, on the first they are not, so the one statement decides them there.
        let full = another_instance(&app, |c| {
            c.pricing.premium.round_zeros = 1;
            c.pricing.premium.sequence_length = 2;
            c.pricing.premium.repeated_digits = 2;
        })
        .await;
        let me = app.tenant_id("globex").await;
        let other = app.tenant_id("initech").await;
        let initech = app.api("agent@initech.test").await;
        let agent = app.api("agent@globex.test").await;
        let agent_on_full = full.api("agent@globex.test").await;
        let agent_id: Uuid =
            sqlx::query_scalar("SELECT id FROM users WHERE email = 'agent@globex.test'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let tenant = inward::tenants::profile(
            &mut app.pool.acquire().await.unwrap(),
            inward::domain::TenantId(me),
        )
        .await
        .unwrap();

        let stock: Vec<(String, String)> = sqlx::query_as(
            "SELECT e164, national FROM numbers
             WHERE lifecycle = 'available' AND country = 'US' AND kind = 'local' AND tenant_id IS NULL
               AND allocated_tenant_id IS NULL ORDER BY e164",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap();
        let (plain, premium) = (&app.state.config.pricing, &full.state.config.pricing);
        let mut candidates = stock.into_iter().filter(|(_, national)| {
            plain.quote(false, national).premium.is_none()
                && premium.quote(false, national).premium.is_some()
        });

        let in_sql = format!(
            "SELECT EXISTS (SELECT 1 FROM numbers n WHERE n.e164 = $1 AND {})",
            offer::offered_sql("n", "$2", "$3", "$4")
        );
        let mut disagreements = Vec::new();
        for case in CASES {
            let (quick_number, _) = candidates.next().expect("enough demo numbers");
            let (full_number, _) = candidates.next().expect("enough demo numbers");
            for number in [&quick_number, &full_number] {
                case.set_up(&app, &initech, number, me, other).await;
            }
            let expected = case.expected();
            let mut answers = Vec::new();

            let facts: OfferFacts = sqlx::query_as(&format!(
                "SELECT {FACTS_COLUMNS} FROM numbers WHERE e164 = $1"
            ))
            .bind(&quick_number)
            .fetch_one(&app.pool)
            .await
            .unwrap();
            answers.push((
                "rust",
                answer_of(&offer::decide(&tenant, &facts, Utc::now())),
            ));
            let sql: bool = sqlx::query_scalar(&in_sql)
                .bind(&quick_number)
                .bind(tenant.id)
                .bind(tenant.inventory_orgs())
                .bind(&tenant.allowed_countries)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            answers.push(("sql offered", bool_answer(sql, expected)));
            answers.push((
                "search",
                bool_answer(agent.searches_to(&quick_number).await, expected),
            ));
            let took = quick::take_one(
                &app.pool,
                &quick::Request {
                    tenant: tenant.clone(),
                    user_id: inward::domain::UserId(agent_id),
                    wanted: vec![quick_number.clone()],
                    reservation_id: inward::domain::ReservationId(Uuid::new_v4()),
                    expires_at: Utc::now() + chrono::Duration::minutes(15),
                    justification: None,
                    request_id: None,
                    details: json!({}),
                    with_carrier: true,
                },
            )
            .await
            .unwrap();
            answers.push(("one statement", bool_answer(took, expected)));
            let (status, body) = agent_on_full
                .reserve(std::slice::from_ref(&full_number))
                .await;
            answers.push(("full path", answer_of_status(status, &body)));

            for (how, answer) in answers {
                if answer != expected {
                    disagreements.push(format!(
                        "{case:?}: {how} says {answer:?}, the rule says {expected:?}"
                    ));
                }
            }
        }
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    })
}

/// A yes/no form (search, SQL, the one statement) says only offered or not: "not" agrees
/// with every answer but `Offered`.
fn bool_answer(offered: bool, expected: Answer) -> Answer {
    match (offered, expected) {
        (true, _) => Answer::Offered,
        (false, Answer::Offered) => Answer::Hidden,
        (false, other) => other,
    }
}

/// The search finds its numbers through indexes partial on the stock states; PostgreSQL uses
/// such an index only when the query's states imply the index's, so each lists exactly
/// `IN_STOCK`, in its order.
#[test]
fn the_search_indexes_cover_exactly_the_stock_states() {
    crate::db::db_test(|pool| async move {
        let predicates: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'numbers'::regclass AND c.relname LIKE 'numbers_search_%'
             ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(predicates.len() >= 6, "{predicates:?}");
        let states: Vec<String> = offer::IN_STOCK
            .iter()
            .map(|s| format!("'{}'::text", s.as_str()))
            .collect();
        let in_stock = format!("(lifecycle = ANY (ARRAY[{}]))", states.join(", "));
        for (index, predicate) in predicates {
            assert!(
                predicate.contains(&in_stock),
                "{index} is partial on {predicate}, the search asks for {in_stock}"
            );
        }
    })
}

/// An orphan deprovisioned after the grace period leaves its tenant the way a released number
/// does: the caller-ID name, 911 address and assignment go with the tenant, and it ages like a
/// released number (only the tenant that lost it is offered it), then goes to the next one.
#[test]
fn a_deprovisioned_orphan_leaves_nothing_of_its_tenant_and_is_offered_again() {
    crate::db::db_test(|pool| async move {
        let app = spawn_app(pool).await;
        let admin = app.api("admin@globex.test").await;
        let number = admin.provisioned(1).await.remove(0);
        let settings = [
            ("cnam", json!({ "name": "Globex Sales" })),
            (
                "e911",
                json!({ "street": "500 Congress Ave", "city": "Austin", "state": "TX", "zip": "78701" }),
            ),
        ];
        for (what, body) in settings {
            let path = format!("/api/v1/numbers/{number}/{what}");
            let (status, answer) = admin.put(&path, body).await;
            assert_eq!(status, StatusCode::OK, "{what}: {answer}");
        }
        let path = format!("/api/v1/inventory/{number}/assignment");
        let (status, answer) = admin
            .put(
                &path,
                json!({ "kind": "user", "assignee": "alice@globex.test" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let left = |table: &'static str| {
            let pool = app.pool.clone();
            let number = number.clone();
            async move {
                sqlx::query_scalar::<_, i64>(&format!(
                    "SELECT count(*) FROM {table} WHERE e164 = $1"
                ))
                .bind(&number)
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        };
        let tables = ["cnam_records", "e911_records", "number_assignments"];
        for table in tables {
            assert_eq!(left(table).await, 1, "{table} before");
        }

        let reseller = app.api("reseller@acme.test").await;
        let (status, body) = reseller
            .put("/api/v1/reseller/settings", json!({ "aging_days": 45 }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Its target went away long ago.
        sqlx::query(
            "UPDATE numbers SET lifecycle = 'orphaned', orphaned_at = now() - interval '400 days' WHERE e164 = $1",
        )
        .bind(&number)
        .execute(&app.pool)
        .await
        .unwrap();
        let report = inward::jobs::orphans::run_once(&app.state).await.unwrap();
        assert_eq!(report.deprovisioned, 1, "{report:?}");
        assert_eq!(app.number_state(&number).await, "deprovisioned");
        assert_eq!(app.audit_count(&number, "DEPROVISION", "SUCCESS").await, 1);
        for table in tables {
            assert_eq!(left(table).await, 0, "{table} after");
        }

        let initech = app.api("agent@initech.test").await;
        assert!(
            !initech.searches_to(&number).await,
            "aging for another tenant"
        );
        let (status, _) = initech.reserve(std::slice::from_ref(&number)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        sqlx::query("UPDATE numbers SET aging_until = now() - interval '1 second' WHERE e164 = $1")
            .bind(&number)
            .execute(&app.pool)
            .await
            .unwrap();
        assert!(initech.searches_to(&number).await, "aged: offered to all");
        let (status, body) = initech.reserve(std::slice::from_ref(&number)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    })
}
