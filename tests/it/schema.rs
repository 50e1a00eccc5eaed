//! What the schema promises beyond the tables' own columns.

#[test]
fn every_reference_to_a_number_is_indexed_by_the_number() {
    crate::db::db_test(|pool| async move {
        // Foreign keys to `numbers` whose column leads no whole (non-partial) index: deleting
        // a number would read all of such a table to check it.
        let unindexed: Vec<String> = sqlx::query_scalar(
            "SELECT c.conrelid::regclass::text FROM pg_constraint c
             WHERE c.contype = 'f' AND c.confrelid = 'numbers'::regclass
               AND NOT EXISTS (
                   SELECT 1 FROM pg_index i
                   WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
                     AND i.indpred IS NULL)
             ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(
            unindexed.is_empty(),
            "not indexed by the number: {unindexed:?}"
        );
    })
}
