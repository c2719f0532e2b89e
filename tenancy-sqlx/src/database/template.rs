//! [`DatabaseUrlTemplate`]: where tenant databases live, as one URL with a
//! `{tenant}` placeholder (`postgres://db1:5432/app_{tenant}`,
//! `sqlite://./data/tenants/{tenant}.db`).

use std::fmt;
use std::path::PathBuf;

use tenancy_core::TenancyError;

use super::name::DatabaseNaming;

/// The backend a URL names, from its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlBackend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    MySql,
    /// `sqlite://` or `sqlite:`.
    Sqlite,
}

impl UrlBackend {
    /// The backend of `url`; `None` for an unknown scheme.
    ///
    /// ```
    /// use tenancy_sqlx::database::UrlBackend;
    ///
    /// assert_eq!(UrlBackend::of("mariadb://db/app"), Some(UrlBackend::MySql));
    /// assert_eq!(UrlBackend::of("redis://cache"), None);
    /// ```
    pub fn of(url: &str) -> Option<Self> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            "sqlite" => Some(Self::Sqlite),
            _ => None,
        }
    }
}

/// Where tenant databases live: a URL whose database name (or SQLite file
/// name) holds `{tenant}`, replaced by a name derived one to one from the
/// tenant id; the text before `{tenant}` is the [`DatabaseNaming`] prefix.
///
/// ```
/// use tenancy_sqlx::database::{DatabaseUrlTemplate, UrlBackend};
///
/// let template = DatabaseUrlTemplate::parse("postgres://db1:5432/app_{tenant}?sslmode=require")?;
/// assert_eq!(template.backend(), UrlBackend::Postgres);
/// assert_eq!(template.naming()?.prefix(), "app_");
/// assert_eq!(template.server_url()?, "postgres://db1:5432/postgres?sslmode=require");
///
/// // Beside a registry database: `{its name}_{tenant}`, or `tenants/{tenant}.db` on SQLite.
/// let beside = DatabaseUrlTemplate::beside("sqlite://./data/registry.db")?;
/// assert_eq!(beside.directory()?, std::path::Path::new("./data/tenants"));
/// # Ok::<(), tenancy_core::TenancyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrlTemplate {
    backend: UrlBackend,
    /// The URL before the database name (`postgres://host:5432`), or the
    /// SQLite directory URL.
    base: String,
    /// The text before `{tenant}` in the database or file name.
    prefix: String,
    /// Anything after the database name (`sslmode=…`), without the `?`.
    query: String,
}

impl DatabaseUrlTemplate {
    /// Parses a template; [`TenancyError::Configuration`] names what is
    /// wrong (no `{tenant}`, an unknown scheme, a SQLite file name not
    /// ending in `{tenant}.db`), with any password in the URL masked.
    pub fn parse(template: &str) -> Result<Self, TenancyError> {
        let bad = |why: &str| {
            configuration(format!(
                "tenant database URL {:?}: {why}",
                redacted(template)
            ))
        };
        let backend = UrlBackend::of(template).ok_or_else(|| {
            bad("unknown scheme (postgres://, mysql://, mariadb:// or sqlite://)")
        })?;
        let (before, query) = template.split_once('?').unwrap_or((template, ""));
        let (base, name) = before
            .rsplit_once('/')
            .ok_or_else(|| bad("no database name"))?;
        let (prefix, suffix) = name
            .split_once("{tenant}")
            .ok_or_else(|| bad("the database name has no {tenant}"))?;
        let expected_suffix = if backend == UrlBackend::Sqlite {
            ".db"
        } else {
            ""
        };
        if suffix != expected_suffix {
            return Err(bad(&format!(
                "the name must end with {{tenant}}{expected_suffix}"
            )));
        }
        let template = Self {
            backend,
            base: base.to_owned(),
            prefix: prefix.to_owned(),
            query: query.to_owned(),
        };
        template.naming()?;
        Ok(template)
    }

    /// The template beside the registry database at `registry_url`:
    /// `{registry database}_{tenant}` on the same server (the name lowercased,
    /// other characters than letters and digits as `_`), or
    /// `tenants/{tenant}.db` beside the registry file on SQLite.
    pub fn beside(registry_url: &str) -> Result<Self, TenancyError> {
        let unnamed = || {
            configuration(format!(
                "registry URL {:?} names no database to put tenant databases beside",
                redacted(registry_url)
            ))
        };
        let backend = UrlBackend::of(registry_url).ok_or_else(unnamed)?;
        let (before, query) = registry_url
            .split_once('?')
            .map_or((registry_url, None), |(b, q)| (b, Some(q)));
        let (base, name) = before.rsplit_once('/').ok_or_else(unnamed)?;
        let template = match backend {
            UrlBackend::Sqlite => format!("{base}/tenants/{{tenant}}.db"),
            UrlBackend::Postgres | UrlBackend::MySql => {
                if name.is_empty() || !base.contains("//") {
                    return Err(unnamed());
                }
                let prefix: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("{base}/{prefix}_{{tenant}}")
            }
        };
        Self::parse(&match query {
            Some(query) => format!("{template}?{query}"),
            None => template,
        })
    }

    /// `explicit` when it is set and not empty, else the template
    /// [beside](Self::beside) the registry at `registry_url`: how a setting
    /// such as `TENANCY_TENANT_DATABASE_URL` with its default is read.
    pub fn explicit_or_beside(
        explicit: Option<&str>,
        registry_url: &str,
    ) -> Result<Self, TenancyError> {
        match explicit.filter(|url| !url.is_empty()) {
            Some(template) => Self::parse(template),
            None => Self::beside(registry_url),
        }
    }

    /// The backend the template's scheme names.
    pub fn backend(&self) -> UrlBackend {
        self.backend
    }

    /// Tenant id → database name: the text before `{tenant}` as prefix.
    pub fn naming(&self) -> Result<DatabaseNaming, TenancyError> {
        DatabaseNaming::with_prefix(&self.prefix).map_err(|error| {
            configuration(format!(
                "tenant database name prefix {:?}: {error}",
                self.prefix
            ))
        })
    }

    /// The URL of the server's maintenance database, where tenant databases
    /// are created (`…/postgres` on Postgres, no database on MySQL);
    /// `Configuration` on SQLite, which has no server.
    pub fn server_url(&self) -> Result<String, TenancyError> {
        let maintenance = match self.backend {
            UrlBackend::Postgres => "/postgres",
            UrlBackend::MySql => "",
            UrlBackend::Sqlite => {
                return Err(configuration("SQLite has no server".to_owned()));
            }
        };
        let query = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        Ok(format!("{}{maintenance}{query}", self.base))
    }

    /// The directory of tenant files (SQLite); `Configuration` on a server
    /// backend.
    pub fn directory(&self) -> Result<PathBuf, TenancyError> {
        let path = self
            .base
            .split_once(':')
            .map(|(_, rest)| rest.strip_prefix("//").unwrap_or(rest))
            .filter(|_| self.backend == UrlBackend::Sqlite)
            .ok_or_else(|| {
                configuration("tenant databases on a server have no directory".to_owned())
            })?;
        Ok(PathBuf::from(if path.is_empty() { "." } else { path }))
    }
}

/// The template with any password masked (`user:***@host`).
impl fmt::Display for DatabaseUrlTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.backend == UrlBackend::Sqlite {
            ".db"
        } else {
            ""
        };
        write!(
            f,
            "{}/{}{{tenant}}{suffix}",
            redacted(&self.base),
            self.prefix
        )?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        Ok(())
    }
}

/// `url` with its database name replaced by `postgres`, the maintenance
/// database of a Postgres server (where databases are created).
///
/// ```
/// use tenancy_sqlx::database::maintenance_url;
///
/// assert_eq!(maintenance_url("postgres://db1/app?sslmode=require")?, "postgres://db1/postgres?sslmode=require");
/// # Ok::<(), tenancy_core::TenancyError>(())
/// ```
pub fn maintenance_url(url: &str) -> Result<String, TenancyError> {
    let (before, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (base, _) = before
        .rsplit_once('/')
        .filter(|(base, _)| base.contains("//") && !base.ends_with('/'))
        .ok_or_else(|| configuration(format!("{:?} names no server", redacted(url))))?;
    Ok(match query {
        Some(query) => format!("{base}/postgres?{query}"),
        None => format!("{base}/postgres"),
    })
}

/// `url` with the password of its user info masked:
/// `postgres://app:***@db/x`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

/// A `Configuration` error with `message`.
fn configuration(message: impl Into<String>) -> TenancyError {
    TenancyError::Configuration {
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages_or_display() {
        let template =
            DatabaseUrlTemplate::parse("postgres://app:s3cret@db:5432/t_{tenant}").unwrap();
        assert_eq!(
            template.to_string(),
            "postgres://app:***@db:5432/t_{tenant}"
        );
        assert_eq!(
            template.server_url().unwrap(),
            "postgres://app:s3cret@db:5432/postgres"
        );
        for error in [
            DatabaseUrlTemplate::parse("postgres://app:s3cret@db/none").unwrap_err(),
            DatabaseUrlTemplate::beside("mysql://root:s3cret@db").unwrap_err(),
            maintenance_url("postgres://app:s3cret@db").unwrap_err(),
        ] {
            let message = error.to_string();
            assert!(
                !message.contains("s3cret") && message.contains("***"),
                "{message}"
            );
        }
        assert_eq!(redacted("sqlite://./x.db"), "sqlite://./x.db");
        assert_eq!(redacted("postgres://user@db/x"), "postgres://user@db/x");
    }

    #[test]
    fn templates_need_a_tenant_placeholder_and_a_known_scheme() {
        for bad in [
            "postgres://db/app",
            "redis://db/{tenant}",
            "sqlite://./t/{tenant}",
            "mysql://db/{tenant}_x",
            "postgres://db/app-{tenant}",
        ] {
            assert!(
                matches!(
                    DatabaseUrlTemplate::parse(bad),
                    Err(TenancyError::Configuration { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_template_round_trips_and_finds_its_server() {
        let text = "mysql://root@db:3306/t_{tenant}?ssl-mode=disabled";
        let template = DatabaseUrlTemplate::parse(text).unwrap();
        assert_eq!(template.to_string(), text);
        assert_eq!(
            template.server_url().unwrap(),
            "mysql://root@db:3306?ssl-mode=disabled"
        );
        assert!(template.directory().is_err());
        let beside = DatabaseUrlTemplate::beside("postgres://db/My-App").unwrap();
        assert_eq!(beside.to_string(), "postgres://db/my_app_{tenant}");
        assert!(DatabaseUrlTemplate::beside("postgres://db/").is_err());
        let socket = DatabaseUrlTemplate::beside("postgres:///app?host=/run/postgresql").unwrap();
        assert_eq!(
            socket.to_string(),
            "postgres:///app_{tenant}?host=/run/postgresql"
        );
        let beside = DatabaseUrlTemplate::beside("sqlite://./data/registry.db").unwrap();
        assert_eq!(beside.directory().unwrap(), PathBuf::from("./data/tenants"));
        assert!(beside.server_url().is_err());
    }
}
