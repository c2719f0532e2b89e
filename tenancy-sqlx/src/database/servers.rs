//! The named servers of a database backend.

use std::collections::BTreeMap;

use tenancy_core::TenancyError;

use crate::ident::Ident;

/// Named servers (connect options or directories), one of them the default.
#[derive(Debug, Clone)]
pub(crate) struct Servers<T> {
    default: Ident,
    map: BTreeMap<Ident, T>,
}

impl<T> Servers<T> {
    pub(crate) fn new(default: Ident, server: T) -> Self {
        let mut map = BTreeMap::new();
        map.insert(default.clone(), server);
        Self { default, map }
    }

    pub(crate) fn insert(&mut self, name: Ident, server: T) {
        self.map.insert(name, server);
    }

    pub(crate) fn default_name(&self) -> &Ident {
        &self.default
    }

    pub(crate) fn contains(&self, name: &Ident) -> bool {
        self.map.contains_key(name)
    }

    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn names(&self) -> impl Iterator<Item = &Ident> {
        self.map.keys()
    }

    /// The server `name`, or a `Configuration` error naming it.
    pub(crate) fn get(&self, name: &Ident) -> Result<&T, TenancyError> {
        self.map
            .get(name)
            .ok_or_else(|| TenancyError::Configuration {
                message: format!("no database server named `{name}` is configured"),
            })
    }
}
