//! Prefixing a query's SQL with a tag (the schema comment of the statement
//! cache, see [`StatementCache`](crate::schema::StatementCache)), and making
//! it unnamed behind a transaction pooler.

use std::sync::Arc;

use sqlx::postgres::{PgArguments, PgStatement};
use sqlx::{AssertSqlSafe, Execute, Postgres, SqlSafeStr, SqlStr};

/// A query whose SQL is prefixed with a schema tag.
pub(crate) struct Tagged<E> {
    inner: E,
    tag: Option<Arc<str>>,
    unnamed: bool,
}

impl<E> Tagged<E> {
    pub(crate) fn new(inner: E, tag: Option<&Arc<str>>) -> Self {
        Self {
            inner,
            tag: tag.cloned(),
            unnamed: false,
        }
    }

    /// Makes the statement unnamed (not prepared for reuse) when `unnamed`.
    pub(crate) fn unnamed(mut self, unnamed: bool) -> Self {
        self.unnamed = unnamed;
        self
    }
}

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Tagged<E> {
    fn sql(self) -> SqlStr {
        tag_raw(self.tag.as_ref(), self.inner.sql())
    }

    fn statement(&self) -> Option<&PgStatement> {
        if self.unnamed {
            // A prepared statement is named: it would outlive the transaction.
            return None;
        }
        match self.tag {
            // A statement prepared elsewhere carries column types described under
            // another search path: let sqlx prepare (and describe) afresh.
            Some(_) => None,
            None => self.inner.statement(),
        }
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, sqlx::error::BoxDynError> {
        self.inner.take_arguments()
    }

    fn persistent(&self) -> bool {
        !self.unnamed && self.inner.persistent()
    }
}

/// `sql` with `tag` in front.
pub(crate) fn tag_sql(tag: &str, sql: &str) -> SqlStr {
    let mut tagged = String::with_capacity(tag.len() + sql.len());
    tagged.push_str(tag);
    tagged.push_str(sql);
    AssertSqlSafe(tagged).into_sql_str()
}

/// Tags raw SQL (for `prepare` / `describe`), unless it is already tagged.
pub(crate) fn tag_raw(tag: Option<&Arc<str>>, sql: SqlStr) -> SqlStr {
    match tag {
        Some(tag) if !sql.as_str().starts_with(&**tag) => tag_sql(tag, sql.as_str()),
        _ => sql,
    }
}
