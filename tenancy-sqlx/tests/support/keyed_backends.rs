//! The MySQL / MariaDB and SQLite configurations of the shared-mode suites.

/// Expands `$suite!` for MySQL / MariaDB and SQLite (the backend's types and
/// migrations as arguments).
macro_rules! keyed_backends {
    ($suite:ident) => {
        #[cfg(feature = "mysql")]
        mod mysql {
            use super::support;
            use support::mysql::MySqlDb;
            use tenancy_sqlx::RegistryConfig;
            use tenancy_sqlx::registry::MySqlRegistry;

            trait Pooled: Sized {
                fn concurrent(self) -> Self {
                    self
                }
            }
            impl Pooled for tenancy_sqlx::shared::keyed::MySqlSharedPool {}

            $suite! {
                db: sqlx::MySql,
                registry: MySqlRegistry,
                pool: concurrent,
                setup: |size| {
                    let db = MySqlDb::new().await;
                    let pool = db.pool(size).await;
                    let registry = MySqlRegistry::connect(pool, RegistryConfig::default()).await.unwrap();
                    (db, registry)
                },
                items: (1, "items",
                    "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
                     tenant_id VARCHAR(63) NOT NULL, marker VARCHAR(63) NOT NULL, name VARCHAR(255) NOT NULL, \
                     INDEX items_tenant (tenant_id, id)) ENGINE=InnoDB"),
                projects: (1, "projects",
                    "CREATE TABLE projects (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
                     tenant_id VARCHAR(63) NOT NULL, name VARCHAR(255) NOT NULL, \
                     INDEX projects_tenant (tenant_id, id)) ENGINE=InnoDB"),
                tasks: (2, "tasks",
                    "CREATE TABLE tasks (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
                     tenant_id VARCHAR(63) NOT NULL, project_id BIGINT NOT NULL, title VARCHAR(255) NOT NULL, \
                     INDEX tasks_tenant (tenant_id, id), \
                     CONSTRAINT tasks_project FOREIGN KEY (project_id) REFERENCES projects (id)) ENGINE=InnoDB"),
                add_column: (3, "priority", "ALTER TABLE tasks ADD COLUMN priority INT NULL"),
                failing: (4, "broken", "ALTER TABLE no_such_table ADD COLUMN x INT"),
            }
        }

        #[cfg(feature = "sqlite")]
        mod sqlite {
            use super::support;
            use support::sqlite::SqliteDb;
            use tenancy_sqlx::RegistryConfig;
            use tenancy_sqlx::registry::SqliteRegistry;

            trait Pooled: Sized {
                fn concurrent(self) -> Self;
            }
            impl Pooled for tenancy_sqlx::shared::keyed::SqliteSharedPool {
                /// Concurrent writers: take the write lock at BEGIN.
                fn concurrent(self) -> Self {
                    self.immediate()
                }
            }

            $suite! {
                db: sqlx::Sqlite,
                registry: SqliteRegistry,
                pool: concurrent,
                setup: |size| {
                    let db = SqliteDb::new();
                    let pool = db.pool(size).await;
                    let registry = SqliteRegistry::connect(pool, RegistryConfig::default()).await.unwrap();
                    (db, registry)
                },
                items: (1, "items",
                    "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, \
                     marker TEXT NOT NULL, name TEXT NOT NULL); \
                     CREATE INDEX items_tenant ON items (tenant_id, id)"),
                projects: (1, "projects",
                    "CREATE TABLE projects (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, \
                     name TEXT NOT NULL); CREATE INDEX projects_tenant ON projects (tenant_id, id)"),
                tasks: (2, "tasks",
                    "CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, \
                     project_id INTEGER NOT NULL REFERENCES projects (id), title TEXT NOT NULL); \
                     CREATE INDEX tasks_tenant ON tasks (tenant_id, id)"),
                add_column: (3, "priority", "ALTER TABLE tasks ADD COLUMN priority INTEGER"),
                failing: (4, "broken", "ALTER TABLE tasks ADD COLUMN done INTEGER; SELECT * FROM no_such_table"),
            }
        }
    };
}
