//! Rewriting `{tenant}` in scoped SQL into a `?` placeholder bound to the
//! tenant key, and mapping the placeholders to tenant and caller values.
//!
//! The scanner skips string literals, quoted identifiers and comments, so a
//! `?` or `{tenant}` inside them is left alone, exactly as the server would.

use crate::ident::InvalidIdentifier;

/// The token a scoped query writes where the tenant key goes.
pub(crate) const TOKEN: &str = "{tenant}";

/// The SQL dialect being scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// MySQL / MariaDB: backslash escapes in strings, `#` and `-- ` comments,
    /// `/*! … */` executable comments.
    MySql,
    /// SQLite: `[identifiers]`, numbered and named parameters (refused).
    Sqlite,
}

/// What fills one `?` of the rewritten SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The tenant key (a `{tenant}` token).
    Tenant,
    /// The caller's next bound value (a `?` of the original SQL).
    Caller,
}

/// Scoped SQL after rewriting.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) sql: String,
    pub(crate) slots: Vec<Slot>,
}

impl Template {
    /// How many values the caller must bind.
    pub(crate) fn caller_values(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| **slot == Slot::Caller)
            .count()
    }
}

/// Why a scoped query cannot run. Surfaced as
/// [`sqlx::Error::Configuration`] when the query is executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SharedQueryError {
    /// The SQL never mentions the tenant: write `{tenant}` where the key goes
    /// (e.g. `WHERE tenant_id = {tenant}`).
    #[error(
        "a tenant-scoped query must bind the tenant: write `{{tenant}}` where the tenant key goes \
         (e.g. `WHERE tenant_id = {{tenant}}`)"
    )]
    MissingTenant,
    /// A string literal, quoted identifier or comment is not closed.
    #[error("unterminated {what} in a tenant-scoped query")]
    Unterminated {
        /// What is left open.
        what: &'static str,
    },
    /// A numbered or named parameter (`?1`, `:name`, `@name`, `$name`);
    /// scoped queries use plain `?` placeholders only.
    #[error(
        "the parameter `{parameter}` is not supported in tenant-scoped queries (use plain `?`)"
    )]
    UnsupportedParameter {
        /// The parameter as written.
        parameter: String,
    },
    /// The number of bound values does not match the `?` placeholders.
    #[error("the query has {expected} `?` placeholder(s) but {given} value(s) were bound")]
    Arguments {
        /// Placeholders in the SQL (not counting `{tenant}`).
        expected: usize,
        /// Values bound.
        given: usize,
    },
    /// A table or column name given to [`insert`](crate::shared::keyed::SharedTransaction::insert)
    /// is not a valid identifier.
    #[error(transparent)]
    InvalidIdentifier(#[from] InvalidIdentifier),
    /// The tenant column was given a value explicitly; the helper sets it.
    #[error("the tenant column `{column}` is set by the helper; do not give it a value")]
    TenantColumn {
        /// The tenant column.
        column: String,
    },
}

impl From<SharedQueryError> for sqlx::Error {
    fn from(error: SharedQueryError) -> Self {
        sqlx::Error::Configuration(Box::new(error))
    }
}

/// Rewrites `sql`: each `{tenant}` becomes `?` (a tenant slot), each `?` stays
/// (a caller slot). At least one `{tenant}` is required.
pub(crate) fn rewrite(sql: &str, dialect: Syntax) -> Result<Template, SharedQueryError> {
    let mut out = String::with_capacity(sql.len());
    let mut slots = Vec::new();
    let mut chars = sql.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((index, ch)) = chars.next() {
        match ch {
            '\'' => copy_quoted(
                &mut out,
                &mut chars,
                '\'',
                dialect == Syntax::MySql,
                "string literal",
            )?,
            '"' => copy_quoted(
                &mut out,
                &mut chars,
                '"',
                dialect == Syntax::MySql,
                "double-quoted string or identifier",
            )?,
            '`' => copy_quoted(&mut out, &mut chars, '`', false, "quoted identifier")?,
            '[' if dialect == Syntax::Sqlite => {
                out.push('[');
                copy_until(&mut out, &mut chars, ']', None, "bracketed identifier")?;
            }
            '-' if chars.peek().is_some_and(|(_, next)| *next == '-')
                && line_comment_starts(sql, index, dialect) =>
            {
                out.push('-');
                copy_line(&mut out, &mut chars);
            }
            '#' if dialect == Syntax::MySql => {
                out.push('#');
                copy_line(&mut out, &mut chars);
            }
            '/' if chars.peek().is_some_and(|(_, next)| *next == '*') => {
                let executable = dialect == Syntax::MySql
                    && sql
                        .get(index..)
                        .is_some_and(|rest| rest.starts_with("/*!") || rest.starts_with("/*+"));
                out.push('/');
                if !executable {
                    // A plain comment: copied as is, its contents not scanned.
                    if let Some((_, star)) = chars.next() {
                        out.push(star);
                    }
                    copy_until(&mut out, &mut chars, '/', Some('*'), "block comment")?;
                }
            }
            '{' if sql.get(index..).is_some_and(|rest| rest.starts_with(TOKEN)) => {
                for _ in 1..TOKEN.len() {
                    chars.next();
                }
                out.push('?');
                slots.push(Slot::Tenant);
                previous = Some('}');
                continue;
            }
            '?' => {
                if dialect == Syntax::Sqlite
                    && chars.peek().is_some_and(|(_, next)| next.is_ascii_digit())
                {
                    return Err(unsupported(sql, index));
                }
                out.push('?');
                slots.push(Slot::Caller);
            }
            ':' | '@' | '$'
                if dialect == Syntax::Sqlite
                    && !previous.is_some_and(is_ident_char)
                    && chars.peek().is_some_and(|(_, next)| is_ident_char(*next)) =>
            {
                return Err(unsupported(sql, index));
            }
            other => out.push(other),
        }
        previous = Some(ch);
    }
    if !slots.contains(&Slot::Tenant) {
        return Err(SharedQueryError::MissingTenant);
    }
    Ok(Template { sql: out, slots })
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn is_ident_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_' || ch == '$'
}

/// MySQL needs `--` to be followed by whitespace (or the end) to start a comment.
fn line_comment_starts(sql: &str, index: usize, dialect: Syntax) -> bool {
    match dialect {
        Syntax::Sqlite => true,
        Syntax::MySql => sql
            .get(index + 2..)
            .is_none_or(|rest| rest.chars().next().is_none_or(char::is_whitespace)),
    }
}

/// Copies a quoted run whose opening `quote` was just read; a doubled quote
/// is an escaped quote, and with `backslash` so is `\x`.
fn copy_quoted(
    out: &mut String,
    chars: &mut Chars<'_>,
    quote: char,
    backslash: bool,
    what: &'static str,
) -> Result<(), SharedQueryError> {
    out.push(quote);
    while let Some((_, ch)) = chars.next() {
        out.push(ch);
        if backslash && ch == '\\' {
            match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => break,
            }
        } else if ch == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                if let Some((_, doubled)) = chars.next() {
                    out.push(doubled);
                }
            } else {
                return Ok(());
            }
        }
    }
    Err(SharedQueryError::Unterminated { what })
}

/// Copies up to and including `end` (preceded by `before`, if given), all
/// read after the opening delimiter.
fn copy_until(
    out: &mut String,
    chars: &mut Chars<'_>,
    end: char,
    before: Option<char>,
    what: &'static str,
) -> Result<(), SharedQueryError> {
    let mut last: Option<char> = None;
    for (_, ch) in chars.by_ref() {
        out.push(ch);
        if ch == end && before.is_none_or(|before| last == Some(before)) {
            return Ok(());
        }
        last = Some(ch);
    }
    Err(SharedQueryError::Unterminated { what })
}

/// Copies the rest of a line comment (the newline included).
fn copy_line(out: &mut String, chars: &mut Chars<'_>) {
    for (_, ch) in chars.by_ref() {
        out.push(ch);
        if ch == '\n' {
            return;
        }
    }
}

fn unsupported(sql: &str, index: usize) -> SharedQueryError {
    let parameter: String = sql
        .get(index..)
        .unwrap_or_default()
        .chars()
        .enumerate()
        .take_while(|(n, ch)| *n == 0 || is_ident_char(*ch))
        .map(|(_, ch)| ch)
        .collect();
    SharedQueryError::UnsupportedParameter { parameter }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Slot::{Caller, Tenant};

    fn slots(sql: &str, dialect: Syntax) -> (String, Vec<Slot>) {
        let template = rewrite(sql, dialect).unwrap();
        (template.sql, template.slots)
    }

    #[test]
    fn tokens_become_placeholders_in_order() {
        let (sql, order) = slots(
            "SELECT * FROM a JOIN b ON b.a_id = a.id AND b.tenant_id = {tenant} \
             WHERE a.tenant_id = {tenant} AND a.id = ?",
            Syntax::MySql,
        );
        assert_eq!(
            sql,
            "SELECT * FROM a JOIN b ON b.a_id = a.id AND b.tenant_id = ? \
             WHERE a.tenant_id = ? AND a.id = ?"
        );
        assert_eq!(order, [Tenant, Tenant, Caller]);
        let (_, order) = slots(
            "INSERT INTO items (name, tenant_id, price) VALUES (?, {tenant}, ?)",
            Syntax::Sqlite,
        );
        assert_eq!(order, [Caller, Tenant, Caller]);
    }

    #[test]
    fn literals_identifiers_and_comments_are_skipped() {
        for dialect in [Syntax::MySql, Syntax::Sqlite] {
            let (sql, order) = slots(
                "SELECT '?{tenant}', 'it''s ?', `we?ird` /* ? {tenant} */ FROM t \
                 WHERE tenant_id = {tenant} -- trailing ? {tenant}\n AND x = ?",
                dialect,
            );
            assert_eq!(order, [Tenant, Caller], "{dialect:?}: {sql}");
            assert!(sql.contains("'?{tenant}'"));
            assert!(sql.contains("/* ? {tenant} */"));
        }
        // MySQL: backslash escapes, `#` comments, double-quoted strings.
        let (_, order) = slots(
            "SELECT 'a\\'?', \"b?\" FROM t # ?\nWHERE tenant_id = {tenant}",
            Syntax::MySql,
        );
        assert_eq!(order, [Tenant]);
        // MySQL: `5--?` is arithmetic, not a comment; `/*! ?*/` is executed.
        let (_, order) = slots(
            "SELECT 5--? FROM t WHERE k = {tenant} /*! AND ? */",
            Syntax::MySql,
        );
        assert_eq!(order, [Caller, Tenant, Caller]);
        // SQLite: brackets quote identifiers; backslash is an ordinary character.
        let (_, order) = slots(
            "SELECT [a?], 'x\\' FROM t WHERE k = {tenant}",
            Syntax::Sqlite,
        );
        assert_eq!(order, [Tenant]);
        // `/*/` does not close a comment.
        let (_, order) = slots(
            "SELECT 1 /*/ ? */ FROM t WHERE k = {tenant}",
            Syntax::Sqlite,
        );
        assert_eq!(order, [Tenant]);
    }

    #[test]
    fn misuse_is_refused() {
        assert_eq!(
            rewrite("SELECT * FROM items", Syntax::MySql).unwrap_err(),
            SharedQueryError::MissingTenant
        );
        assert_eq!(
            rewrite("SELECT '{tenant}' FROM items", Syntax::Sqlite).unwrap_err(),
            SharedQueryError::MissingTenant,
            "a token inside a literal does not count"
        );
        assert!(matches!(
            rewrite("SELECT 'open FROM t WHERE k = {tenant}", Syntax::MySql),
            Err(SharedQueryError::Unterminated { .. })
        ));
        for (sql, parameter) in [
            ("SELECT * FROM t WHERE k = {tenant} AND id = ?1", "?1"),
            ("SELECT * FROM t WHERE k = {tenant} AND id = :id", ":id"),
            ("SELECT * FROM t WHERE k = {tenant} AND id = @id", "@id"),
            ("SELECT * FROM t WHERE k = {tenant} AND id = $id", "$id"),
        ] {
            assert_eq!(
                rewrite(sql, Syntax::Sqlite).unwrap_err(),
                SharedQueryError::UnsupportedParameter {
                    parameter: parameter.to_owned()
                }
            );
        }
        // MySQL user variables and SQLite identifiers with `$` are fine.
        assert!(rewrite("SELECT @rank := 1 FROM t WHERE k = {tenant}", Syntax::MySql).is_ok());
        assert!(rewrite("SELECT a$b FROM t WHERE k = {tenant}", Syntax::Sqlite).is_ok());
    }
}
