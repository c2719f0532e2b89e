//! `sqlx::Executor` for scoped transactions and sessions: every query is
//! tagged for the statement cache (see [`StatementCache`](super::StatementCache))
//! and forwarded to the underlying connection, and its errors are shown to
//! the tagging (a shared statement refused by Postgres isolates its schema).

/// Implements `Executor<'t>` for `&'t mut $ty`, given an expression that yields
/// `Result<&mut PgConnection, sqlx::Error>` from `this` and the tag field.
macro_rules! tenant_executor {
    ($ty:ty, |$this:ident| $conn:expr) => {
        impl<'t> sqlx::Executor<'t> for &'t mut $ty {
            type Database = sqlx::Postgres;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> futures_util::stream::BoxStream<
                'e,
                Result<
                    sqlx::Either<sqlx::postgres::PgQueryResult, sqlx::postgres::PgRow>,
                    sqlx::Error,
                >,
            >
            where
                't: 'e,
                E: 'q + sqlx::Execute<'q, sqlx::Postgres>,
            {
                let $this = self;
                let tagged = $crate::postgres::tagged::Tagged::new(query, $this.tagging.tag()).unnamed($this.unnamed);
                let observer = $this.tagging.observer();
                match $conn {
                    Ok(conn) => match observer {
                        None => conn.fetch_many(tagged),
                        Some(observer) => Box::pin(futures_util::TryStreamExt::inspect_err(
                            conn.fetch_many(tagged),
                            move |error| observer.observe(error),
                        )),
                    },
                    Err(error) => Box::pin(futures_util::stream::once(std::future::ready(Err(error)))),
                }
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> futures_util::future::BoxFuture<
                'e,
                Result<Option<sqlx::postgres::PgRow>, sqlx::Error>,
            >
            where
                't: 'e,
                E: 'q + sqlx::Execute<'q, sqlx::Postgres>,
            {
                let $this = self;
                let tagged = $crate::postgres::tagged::Tagged::new(query, $this.tagging.tag()).unnamed($this.unnamed);
                let observer = $this.tagging.observer();
                match $conn {
                    Ok(conn) => match observer {
                        None => conn.fetch_optional(tagged),
                        Some(observer) => Box::pin(futures_util::TryFutureExt::inspect_err(
                            conn.fetch_optional(tagged),
                            move |error| observer.observe(error),
                        )),
                    },
                    Err(error) => Box::pin(std::future::ready(Err(error))),
                }
            }

            fn prepare_with<'e>(
                self,
                sql: sqlx::SqlStr,
                parameters: &'e [sqlx::postgres::PgTypeInfo],
            ) -> futures_util::future::BoxFuture<
                'e,
                Result<sqlx::postgres::PgStatement, sqlx::Error>,
            >
            where
                't: 'e,
            {
                let $this = self;
                let sql = $crate::postgres::tagged::tag_raw($this.tagging.tag(), sql);
                match $conn {
                    Ok(conn) => conn.prepare_with(sql, parameters),
                    Err(error) => Box::pin(std::future::ready(Err(error))),
                }
            }

            fn describe<'e>(
                self,
                sql: sqlx::SqlStr,
            ) -> futures_util::future::BoxFuture<
                'e,
                Result<sqlx::Describe<sqlx::Postgres>, sqlx::Error>,
            >
            where
                't: 'e,
            {
                let $this = self;
                let sql = $crate::postgres::tagged::tag_raw($this.tagging.tag(), sql);
                match $conn {
                    Ok(conn) => conn.describe(sql),
                    Err(error) => Box::pin(std::future::ready(Err(error))),
                }
            }
        }
    };
}

pub(crate) use tenant_executor;
