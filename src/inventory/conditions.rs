//! The inventory filter, as a person writes it (`FilterQuery`), checked (`Filter`) and as SQL. A filter is a conjunction of conditions, some of which are
//! alternatives: a number prefix with or without the NANP country code, a tenant as the
//! number's user or as its allocation. Bulk actions write alternatives as `OR`. The listing
//! does not: under `ORDER BY e164 LIMIT n` PostgreSQL answers an `OR` by walking the primary
//! key and filtering, which with 10,000,000 numbers read 1.5 s for a page of `512…` and 6.7 s
//! for a tenant's name. It runs one ordered, limited branch per combination of alternatives,
//! each a range of an index, and merges them.

use serde::Deserialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::Scope;
use crate::domain::{NumberState, TenantId};
use crate::error::{AppError, AppResult};

const ASSIGNED: &str = "EXISTS (SELECT 1 FROM number_assignments na WHERE na.e164 = n.e164)";
const UNASSIGNED: &str = "NOT EXISTS (SELECT 1 FROM number_assignments na WHERE na.e164 = n.e164)";

/// Where the 911 address of the tenant using the number stands.
const E911_NOT_SET: &str =
    "NOT EXISTS (SELECT 1 FROM e911_records e WHERE e.e164 = n.e164 AND e.tenant_id = n.tenant_id)";
const E911_PENDING: &str = "EXISTS (SELECT 1 FROM e911_records e WHERE e.e164 = n.e164 AND e.tenant_id = n.tenant_id AND e.status = 'pending')";
const E911_REGISTERED: &str = "EXISTS (SELECT 1 FROM e911_records e WHERE e.e164 = n.e164 AND e.tenant_id = n.tenant_id AND e.status = 'registered')";
const E911_FAILED: &str = "EXISTS (SELECT 1 FROM e911_records e WHERE e.e164 = n.e164 AND e.tenant_id = n.tenant_id AND e.status = 'failed')";

/// The E911 statuses the filter offers, and the condition of each.
pub const E911_STATUSES: [(&str, &str); 4] = [
    ("not_set", E911_NOT_SET),
    ("pending", E911_PENDING),
    ("registered", E911_REGISTERED),
    ("failed", E911_FAILED),
];

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilterQuery {
    pub tenant: Option<String>,
    pub status: Option<String>,
    pub e911: Option<String>,
    pub q: Option<String>,
    /// `unassigned` or `assigned`: numbers without/with a user, trunk or SMS assignment.
    pub assignment: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantFilter {
    Unassigned,
    Tenant(TenantId),
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tenant: Option<TenantFilter>,
    pub status: Option<String>,
    /// One of `conditions::E911_STATUSES`.
    pub e911: Option<String>,
    pub assigned: Option<bool>,
    pub q: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

fn clean(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl FilterQuery {
    pub fn parse(&self) -> AppResult<Filter> {
        let tenant = match clean(&self.tenant) {
            None => None,
            Some("unassigned") => Some(TenantFilter::Unassigned),
            Some(raw) => Some(TenantFilter::Tenant(raw.parse().map_err(|_| {
                AppError::invalid_field("tenant", "tenant must be a tenant id or “unassigned”")
            })?)),
        };
        let status = clean(&self.status)
            .map(|s| {
                s.to_ascii_lowercase()
                    .parse::<NumberState>()
                    .map(|s| s.as_str().to_string())
                    .map_err(|e| AppError::invalid_field("status", e))
            })
            .transpose()?;
        let statuses = E911_STATUSES.map(|(name, _)| name);
        let e911 = match clean(&self.e911) {
            None => None,
            Some(status) if statuses.contains(&status) => Some(status.to_string()),
            Some(other) => {
                return Err(AppError::invalid_field(
                    "e911",
                    format!(
                        "E911 status “{other}” is not one of: {}",
                        statuses.join(", ")
                    ),
                ));
            }
        };
        let assigned = match clean(&self.assignment) {
            None => None,
            Some("assigned") => Some(true),
            Some("unassigned") => Some(false),
            Some(other) => {
                return Err(AppError::invalid_field(
                    "assignment",
                    format!("assignment “{other}” is not assigned or unassigned"),
                ));
            }
        };
        let after = crate::web::paging::cursor(self.cursor.as_deref(), |c| {
            crate::domain::E164::parse(c)
                .ok()
                .map(|n| n.as_str().to_string())
        })?;
        let limit = crate::web::paging::limit(self.limit.as_deref(), 50)?;
        Ok(Filter {
            tenant,
            status,
            e911,
            assigned,
            q: clean(&self.q).map(str::to_string),
            after,
            limit,
        })
    }
}

/// The two columns that tie a number to a tenant.
const TENANT_COLUMNS: [&str; 2] = ["n.tenant_id", "n.allocated_tenant_id"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A fixed condition.
    Sql(&'static str),
    /// `column = tenant`.
    TenantIs(&'static str, Uuid),
    /// `column` is a tenant whose name matches the `ILIKE` pattern.
    TenantNamed(&'static str, String),
    /// Written as a literal: a generic plan of `lifecycle = $1` cannot know that the value is
    /// a rare one and walked the primary key through all 10,000,000 numbers (5.6 s).
    Lifecycle(NumberState),
    /// `from <= e164 < to`.
    E164Range(String, String),
}

/// The filter as a list of conditions, each a list of alternatives (usually one).
pub fn conditions(scope: Scope, filter: &Filter) -> Vec<Vec<Term>> {
    let tenant = |t: TenantId| TENANT_COLUMNS.map(|c| Term::TenantIs(c, t.0)).to_vec();
    let mut all = vec![match scope {
        Scope::Everything => vec![Term::Sql("true")],
        Scope::Inventory(org) => vec![Term::TenantIs("n.inventory_org_id", org)],
        Scope::Tenant(t) => tenant(t),
    }];
    match &filter.tenant {
        None => {}
        Some(TenantFilter::Unassigned) => all.push(vec![Term::Sql(
            "n.allocated_tenant_id IS NULL AND n.tenant_id IS NULL",
        )]),
        Some(TenantFilter::Tenant(t)) => all.push(tenant(*t)),
    }
    if let Some(status) = &filter.status {
        all.push(vec![match status.parse() {
            Ok(state) => Term::Lifecycle(state),
            // No number is in a state that does not exist (the filter's parser refuses it).
            Err(_) => Term::Sql("false"),
        }]);
    }
    if let Some(status) = &filter.e911
        && let Some((_, sql)) = E911_STATUSES.iter().find(|(name, _)| name == status)
    {
        all.push(vec![Term::Sql(sql)]);
    }
    match filter.assigned {
        Some(true) => all.push(vec![Term::Sql(ASSIGNED)]),
        Some(false) => all.push(vec![Term::Sql(UNASSIGNED)]),
        None => {}
    }
    if let Some(text) = &filter.q {
        all.push(text_search(text));
    }
    all
}

/// Past this many tenants matching a name, the page reads them with `IN (SELECT …)` rather than
/// a branch each (two per tenant, and planning grows with the branches).
pub const MAX_NAMED_BRANCHES: usize = 8;

/// The `ILIKE` pattern of a search by tenant name, if the filter's text is one.
pub fn tenant_name_pattern(filter: &Filter) -> Option<String> {
    match text_search(filter.q.as_deref()?).first()? {
        Term::TenantNamed(_, pattern) => Some(pattern.clone()),
        _ => None,
    }
}

/// Digits (with phone punctuation) are a prefix of the E.164 number, with or without the
/// NANP 1; anything else is part of a tenant's name.
fn text_search(text: &str) -> Vec<Term> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let is_number = !digits.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if is_number {
        // ':' follows '9' in byte order, so `< "+512:"` ends the range of `+512…`.
        [format!("+{digits}"), format!("+1{digits}")]
            .map(|p| Term::E164Range(p.clone(), format!("{p}:")))
            .to_vec()
    } else {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        TENANT_COLUMNS
            .map(|c| Term::TenantNamed(c, format!("%{escaped}%")))
            .to_vec()
    }
}

/// Every way of picking one alternative of each condition.
pub fn branches(conditions: &[Vec<Term>]) -> Vec<Vec<&Term>> {
    conditions
        .iter()
        .fold(vec![Vec::new()], |partial, alternatives| {
            partial
                .iter()
                .flat_map(|picked| {
                    alternatives.iter().map(move |term| {
                        let mut next = picked.clone();
                        next.push(term);
                        next
                    })
                })
                .collect()
        })
}

fn push_term(q: &mut QueryBuilder<'_, Postgres>, term: &Term) {
    match term {
        Term::Sql(sql) => {
            q.push(*sql);
        }
        Term::TenantIs(column, id) => {
            q.push(*column).push(" = ").push_bind(*id);
        }
        Term::TenantNamed(column, pattern) => {
            q.push(*column)
                .push(" IN (SELECT id FROM organizations WHERE kind = 'tenant' AND name ILIKE ")
                .push_bind(pattern.clone())
                .push(")");
        }
        Term::Lifecycle(state) => {
            q.push("n.lifecycle = '").push(state.as_str()).push("'");
        }
        Term::E164Range(from, to) => {
            q.push("n.e164 >= ")
                .push_bind(from.clone())
                .push(" AND n.e164 < ")
                .push_bind(to.clone());
        }
    }
}

/// Appends the scope and the filter's conditions (not the cursor or the limit), alternatives
/// as `OR`: for statements over the whole selection.
pub fn push_conditions(q: &mut QueryBuilder<'_, Postgres>, scope: Scope, filter: &Filter) {
    for (i, alternatives) in conditions(scope, filter).iter().enumerate() {
        if i > 0 {
            q.push(" AND ");
        }
        q.push("(");
        for (j, term) in alternatives.iter().enumerate() {
            if j > 0 {
                q.push(" OR ");
            }
            push_term(q, term);
        }
        q.push(")");
    }
}

/// Appends one page of `select` (which ends in `WHERE `): after the filter's cursor, in E.164
/// order, at most the filter's limit. With alternatives, each branch picks the numbers of its
/// page and `select` reads the merged page's rows by number.
///
/// `named` are the tenants a name search matched, when the caller looked them up: each
/// becomes a branch on the tenant's index, in E.164 order. Left to `IN (SELECT …)`, the
/// search read all of a tenant's numbers to sort them (11,000 of them: 13 ms).
pub fn push_page(
    q: &mut QueryBuilder<'_, Postgres>,
    select: &str,
    scope: Scope,
    filter: &Filter,
    named: Option<&[Uuid]>,
) {
    let mut conditions = conditions(scope, filter);
    if let Some(ids) = named.filter(|ids| ids.len() <= MAX_NAMED_BRANCHES) {
        for alternatives in &mut conditions {
            if matches!(alternatives.first(), Some(Term::TenantNamed(..))) {
                *alternatives = TENANT_COLUMNS
                    .iter()
                    .flat_map(|c| ids.iter().map(|id| Term::TenantIs(c, *id)))
                    .collect();
                if alternatives.is_empty() {
                    alternatives.push(Term::Sql("false"));
                }
            }
        }
    }
    let branches = branches(&conditions);
    // The limit is a literal: planned with `LIMIT $n`, PostgreSQL cannot tell a page from the
    // whole table, never settled on a generic plan, and planned every request anew.
    let order_and_limit = format!(" ORDER BY n.e164 LIMIT {}", filter.limit);
    let push_branch = |q: &mut QueryBuilder<'_, Postgres>, terms: &[&Term]| {
        for (j, term) in terms.iter().enumerate() {
            if j > 0 {
                q.push(" AND ");
            }
            push_term(q, term);
        }
        if let Some(after) = &filter.after {
            q.push(" AND n.e164 > ").push_bind(after.clone());
        }
        q.push(&order_and_limit);
    };
    q.push(select);
    if let [terms] = branches.as_slice() {
        push_branch(q, terms);
        return;
    }
    q.push("n.e164 = ANY(ARRAY(SELECT e164 FROM (");
    for (i, terms) in branches.iter().enumerate() {
        if i > 0 {
            // UNION, not UNION ALL: a number used by the tenant it is allocated to is in two.
            q.push(" UNION ");
        }
        q.push("(SELECT n.e164 FROM numbers n WHERE ");
        push_branch(q, terms);
        q.push(")");
    }
    q.push(") page))").push(&order_and_limit);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_refuse_nonsense() {
        let f = FilterQuery {
            tenant: Some("unassigned".into()),
            status: Some("RELEASED".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        assert_eq!(f.tenant, Some(TenantFilter::Unassigned));
        assert_eq!(f.status.as_deref(), Some("released"));
        assert!(
            FilterQuery {
                limit: Some("0".into()),
                ..Default::default()
            }
            .parse()
            .is_err()
        );
        assert!(
            FilterQuery {
                e911: Some("validated".into()),
                ..Default::default()
            }
            .parse()
            .is_err()
        );
    }

    fn sql(build: impl FnOnce(&mut QueryBuilder<'_, Postgres>)) -> String {
        let mut q = QueryBuilder::new("");
        build(&mut q);
        q.sql().to_string()
    }

    #[test]
    fn a_number_prefix_is_two_ranges_with_and_without_the_nanp_one() {
        assert_eq!(
            text_search("(512) 55"),
            vec![
                Term::E164Range("+51255".into(), "+51255:".into()),
                Term::E164Range("+151255".into(), "+151255:".into()),
            ]
        );
        assert_eq!(
            text_search("50%_off"),
            TENANT_COLUMNS
                .map(|c| Term::TenantNamed(c, "%50\\%\\_off%".into()))
                .to_vec()
        );
    }

    #[test]
    fn branches_pick_one_alternative_of_each_condition() {
        let t = Uuid::from_u128(7);
        let filter = Filter {
            q: Some("512".into()),
            status: Some("active".into()),
            limit: 50,
            ..Default::default()
        };
        let conditions = conditions(Scope::Tenant(TenantId(t)), &filter);
        let branches = branches(&conditions);
        // (tenant_id | allocated_tenant_id) × lifecycle × (+512 | +1512)
        assert_eq!(branches.len(), 4);
        for b in &branches {
            assert_eq!(b.len(), 3);
            assert_eq!(*b[1], Term::Lifecycle(NumberState::Active));
        }
        assert_ne!(branches[0], branches[1]);
        assert_eq!(
            super::branches(&super::conditions(Scope::Everything, &Filter::default())).len(),
            1
        );
    }

    #[test]
    fn a_name_search_becomes_a_branch_per_matched_tenant_and_column() {
        const SELECT: &str = "SELECT n.e164 FROM numbers n WHERE ";
        let filter = Filter {
            q: Some("glob".into()),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(tenant_name_pattern(&filter).as_deref(), Some("%glob%"));
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let two = sql(|q| push_page(q, SELECT, Scope::Everything, &filter, Some(&[a, b])));
        assert_eq!(two.matches("UNION").count(), 3, "{two}");
        assert!(!two.contains("ILIKE"), "{two}");
        let none = sql(|q| push_page(q, SELECT, Scope::Everything, &filter, Some(&[])));
        assert_eq!(
            none,
            "SELECT n.e164 FROM numbers n WHERE true AND false ORDER BY n.e164 LIMIT 50"
        );
        let many: Vec<Uuid> = (0..=MAX_NAMED_BRANCHES as u128)
            .map(Uuid::from_u128)
            .collect();
        let crowd = sql(|q| push_page(q, SELECT, Scope::Everything, &filter, Some(&many)));
        assert_eq!(crowd.matches("ILIKE").count(), 2, "{crowd}");
        let digits = Filter {
            q: Some("512".into()),
            ..filter
        };
        assert_eq!(tenant_name_pattern(&digits), None);
    }

    #[test]
    fn bulk_statements_get_ors_and_pages_get_ordered_branches() {
        let filter = Filter {
            q: Some("512".into()),
            status: Some("released".into()),
            after: Some("+15125550100".into()),
            limit: 50,
            ..Default::default()
        };
        let org = Uuid::from_u128(1);
        assert_eq!(
            sql(|q| push_conditions(q, Scope::Inventory(org), &filter)),
            "(n.inventory_org_id = $1) AND (n.lifecycle = 'released') \
             AND (n.e164 >= $2 AND n.e164 < $3 OR n.e164 >= $4 AND n.e164 < $5)"
        );
        const SELECT: &str = "SELECT n.e164 FROM numbers n WHERE ";
        let page = sql(|q| push_page(q, SELECT, Scope::Everything, &filter, None));
        assert_eq!(
            page,
            "SELECT n.e164 FROM numbers n WHERE n.e164 = ANY(ARRAY(SELECT e164 FROM (\
             (SELECT n.e164 FROM numbers n WHERE true AND n.lifecycle = 'released' \
             AND n.e164 >= $1 AND n.e164 < $2 AND n.e164 > $3 ORDER BY n.e164 LIMIT 50) UNION \
             (SELECT n.e164 FROM numbers n WHERE true AND n.lifecycle = 'released' \
             AND n.e164 >= $4 AND n.e164 < $5 AND n.e164 > $6 ORDER BY n.e164 LIMIT 50)) page)) \
             ORDER BY n.e164 LIMIT 50"
        );
        let first = Filter {
            limit: 5,
            ..Default::default()
        };
        let plain = sql(|q| push_page(q, SELECT, Scope::Everything, &first, None));
        assert_eq!(
            plain,
            "SELECT n.e164 FROM numbers n WHERE true ORDER BY n.e164 LIMIT 5"
        );
    }
}
