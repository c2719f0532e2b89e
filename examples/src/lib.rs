//! Runnable example apps for tenancy-rs (not published).
