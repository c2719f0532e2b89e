//! The schemas used most often lately: whose [qualified](super::QualifiedSchema)
//! statements are worth preparing.

use std::sync::Arc;

use crate::storage::SchemaName;

/// How many schemas' qualified statements are prepared, by default: sqlx's
/// per-connection statement cache capacity.
pub(crate) const DEFAULT_HOT_SCHEMAS: usize = 100;

/// A bounded set of schemas; quick_cache's admission keeps frequently used
/// keys and lets one-off ones pass through.
#[derive(Clone)]
pub(crate) struct HotSchemas(Option<Arc<quick_cache::sync::Cache<SchemaName, ()>>>);

impl HotSchemas {
    /// Up to `capacity` hot schemas (0: none is).
    pub(crate) fn new(capacity: usize) -> Self {
        Self((capacity > 0).then(|| Arc::new(quick_cache::sync::Cache::new(capacity))))
    }

    /// Records a use of `schema`; whether it is hot.
    pub(crate) fn touch(&self, schema: &SchemaName) -> bool {
        let Some(cache) = &self.0 else {
            return false;
        };
        if cache.get(schema).is_some() {
            return true;
        }
        cache.insert(schema.clone(), ());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_is_hot_from_its_second_use_and_none_is_with_capacity_zero() {
        let hot = HotSchemas::new(10);
        let schema = SchemaName::new("tenant_a").unwrap();
        assert!(!hot.touch(&schema));
        assert!(hot.touch(&schema));
        assert!(!HotSchemas::new(0).touch(&schema));
    }
}
