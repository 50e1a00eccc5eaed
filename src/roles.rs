//! The database's two roles. The owner owns the schema and is what `inward migrate` connects
//! as; the runtime role, which `inward serve`, the jobs and the other commands use, may read
//! and write rows and nothing else: no DDL, no TRUNCATE, no way to disable the audit log's
//! triggers or to rewrite its chain. A server connected with more rights than that refuses to
//! start, unless told `--allow-owner`.

use sqlx::{PgConnection, PgPool};

pub const DEFAULT_OWNER: &str = "inward_owner";
pub const DEFAULT_RUNTIME: &str = "inward_runtime";

/// Tables the runtime role gets less than full DML on, and what it gets. The audit log is
/// written, never changed; its seals, head and sealing queue are written only by the
/// sealing functions (which run with their owner's rights); the organizations' tree keeps its shape; a verification's outcome is added, and only its time
/// renewed when the next one finds the same; the migrations table is read by the start-up
/// check.
const NARROWED: &[(&str, &str)] = &[
    ("audit_log", "SELECT, INSERT"),
    ("audit_seals", "SELECT"),
    ("audit_chain_head", "SELECT"),
    ("audit_unsealed", "SELECT"),
    ("audit_verifications", "SELECT, INSERT, UPDATE (at)"),
    ("_sqlx_migrations", "SELECT"),
    // Read with its owner's rights: written through, it would bypass the numbers' policy.
    ("numbers_in_stock", "SELECT"),
    // Never an organization's parent or kind: who sees whose rows hangs on them.
    (
        "organizations",
        "SELECT, INSERT, DELETE, UPDATE (name, allowed_countries, allow_external_numbers)",
    ),
];

/// A role name spliced into DDL: lower-case letters, digits and underscores only.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if starts_well
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with("pg_")
    {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a usable role name: 1 to 63 lower-case letters, digits and underscores, starting with a letter or underscore, not pg_"
        ))
    }
}

/// Creates the two roles when missing and gives the connected database to them: the owner
/// owns the schema and everything in it, the runtime role gets row DML on every table
/// (now and after later migrations) except the narrowed ones. Runs as a superuser, or a role
/// that may create roles and owns the database's objects. Idempotent; returns what it did.
pub async fn setup(
    conn: &mut PgConnection,
    owner: &str,
    runtime: &str,
) -> anyhow::Result<Vec<String>> {
    check_name(owner).map_err(anyhow::Error::msg)?;
    check_name(runtime).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(owner != runtime, "the owner and runtime roles must differ");
    let mut done = Vec::new();
    for role in [owner, runtime] {
        // Tolerates another setup creating the role at the same moment (the tests do).
        sqlx::raw_sql(&format!(
            "DO $$ BEGIN CREATE ROLE {role} LOGIN;
               EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .execute(&mut *conn)
        .await?;
    }
    let (super_, bypass, create_role): (bool, bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = $1",
    )
    .bind(runtime)
    .fetch_one(&mut *conn)
    .await?;
    anyhow::ensure!(
        !(super_ || bypass || create_role),
        "the runtime role {runtime} already exists with SUPERUSER, BYPASSRLS or CREATEROLE: pick another name, or ALTER ROLE {runtime} NOSUPERUSER NOBYPASSRLS NOCREATEROLE"
    );
    done.push(format!(
        "roles {owner} (owner) and {runtime} (runtime) exist"
    ));

    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::raw_sql(&format!(
        "GRANT CONNECT ON DATABASE \"{database}\" TO {owner}, {runtime};
         ALTER SCHEMA public OWNER TO {owner};
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         GRANT USAGE ON SCHEMA public TO {runtime};"
    ))
    .execute(&mut *conn)
    .await?;

    let moved = give_objects_to(conn, owner).await?;
    done.push(format!(
        "schema public and its {moved} object(s) owned by {owner}"
    ));

    // Statements run as the owner: what it creates later (migrations) is granted the same way.
    sqlx::raw_sql(&format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
             GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {runtime};
         ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
             GRANT USAGE, SELECT ON SEQUENCES TO {runtime};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {runtime};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {runtime};"
    ))
    .execute(&mut *conn)
    .await?;
    narrow(conn, runtime).await?;
    done.push(format!(
        "{runtime} may read and write rows (the audit tables append-only), now and after migrations"
    ));
    Ok(done)
}

/// Every table, view, sequence and function of schema public that `owner` does not own yet
/// becomes its; returns how many did.
async fn give_objects_to(conn: &mut PgConnection, owner: &str) -> sqlx::Result<i64> {
    let objects: Vec<(String, String)> = sqlx::query_as(
        "SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                               WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                format('%I', c.relname)
         FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND c.relowner <> $1::regrole
           -- A sequence owned by a column follows its table.
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
         UNION ALL
         SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                format('%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
         FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> $1::regrole
         UNION ALL
         SELECT 'TYPE', format('%I', t.typname)
         FROM pg_type t
         WHERE t.typnamespace = 'public'::regnamespace AND t.typowner <> $1::regrole
           AND t.typtype IN ('e', 'd')",
    )
    .bind(owner)
    .fetch_all(&mut *conn)
    .await?;
    for (kind, name) in &objects {
        sqlx::raw_sql(&format!("ALTER {kind} {name} OWNER TO {owner}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(objects.len() as i64)
}

/// Cuts the runtime role's rights on the narrowed tables down to what it needs.
async fn narrow(conn: &mut PgConnection, runtime: &str) -> sqlx::Result<()> {
    for (table, rights) in NARROWED {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("public.{table}"))
            .fetch_one(&mut *conn)
            .await?;
        if exists {
            sqlx::raw_sql(&format!(
                "REVOKE ALL ON {table} FROM {runtime}; GRANT {rights} ON {table} TO {runtime};"
            ))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// After migrations, run as the owner: tables they created got full DML through the default
/// privileges; the narrowed ones are cut down again for every role the owner grants to by
/// default (the runtime role of `setup`). Nothing happens where no roles were set up.
pub async fn narrow_after_migrate(pool: &PgPool) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    let grantees: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT format('%I', g.rolname)
         FROM pg_default_acl d, aclexplode(d.defaclacl) a
         JOIN pg_roles g ON g.oid = a.grantee
         WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
           AND d.defaclobjtype = 'r' AND a.grantee <> d.defaclrole",
    )
    .fetch_all(&mut *conn)
    .await?;
    for runtime in grantees {
        narrow(&mut conn, &runtime).await?;
    }
    Ok(())
}

/// Why the connected role must not serve: each right it has that the runtime role lacks.
pub async fn excess_rights(pool: &PgPool) -> sqlx::Result<(String, Vec<&'static str>)> {
    let (role, superuser, bypass, create, owns): (String, bool, bool, bool, bool) = sqlx::query_as(
        "SELECT current_user::text, r.rolsuper, r.rolbypassrls,
                    has_schema_privilege('public', 'CREATE'),
                    EXISTS (SELECT 1 FROM pg_class c
                            WHERE c.relnamespace = 'public'::regnamespace
                              AND pg_has_role(c.relowner, 'USAGE'))
             FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(pool)
    .await?;
    let mut excess = Vec::new();
    if superuser {
        excess.push("it is a superuser");
    }
    if bypass {
        excess.push("it bypasses row-level security");
    }
    if create {
        excess.push("it may create objects in schema public");
    }
    if owns && !superuser {
        excess.push("it owns tables of schema public");
    }
    Ok((role, excess))
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn role_names_are_plain_identifiers() {
        assert!(check_name("inward_runtime").is_ok());
        assert!(check_name("_x9").is_ok());
        for bad in [
            "",
            "Inward",
            "9lives",
            "a-b",
            "a b",
            "x\"; DROP",
            "pg_inward",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(64)).is_err());
    }
}
