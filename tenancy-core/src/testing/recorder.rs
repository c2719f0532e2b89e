//! [`Recorder`]: a tracing subscriber that records the `tenancy` spans of
//! the requests.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Default)]
struct Seen {
    spans: usize,
    tenant_ids: Vec<String>,
    handler_events: Vec<Option<String>>,
}

/// Counts `tenancy` spans, collects the `tenant.id`s recorded on them, and
/// for each event whose message is `handler` the `tenant.id` of its
/// enclosing `tenancy` span.
///
/// A [`Layer`]; [`install`](Self::install) makes it the subscriber of the
/// current thread. It asserts that every `tenancy` span declares the field
/// `tenant.id` (see [`request_span`](crate::adapter::request_span)).
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Seen>>);

/// The `tenant.id` recorded on a span, kept in its extensions.
struct TenantIdField(String);

struct TenantIdVisitor(Option<String>);

impl Visit for TenantIdVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "tenant.id" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "tenant.id" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

struct MessageVisitor(bool);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && format!("{value:?}") == "handler" {
            self.0 = true;
        }
    }
}

impl Recorder {
    /// Makes this recorder the subscriber of the current thread until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()))
    }

    /// How many `tenancy` spans were created.
    pub fn spans(&self) -> usize {
        self.0.lock().unwrap().spans
    }

    /// The `tenant.id`s recorded, in order.
    pub fn tenant_ids(&self) -> Vec<String> {
        self.0.lock().unwrap().tenant_ids.clone()
    }

    /// For each `handler` event, in order, the `tenant.id` of its
    /// `tenancy` span (`None` outside one, or when none was recorded).
    pub fn handler_events(&self) -> Vec<Option<String>> {
        self.0.lock().unwrap().handler_events.clone()
    }
}

impl<S> Layer<S> for Recorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == "tenancy" {
            assert!(
                attrs.metadata().fields().field("tenant.id").is_some(),
                "the span declares `tenant.id`"
            );
            self.0.lock().unwrap().spans += 1;
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut visitor = TenantIdVisitor(None);
        values.record(&mut visitor);
        let Some(tenant) = visitor.0 else { return };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(TenantIdField(tenant.clone()));
        }
        self.0.lock().unwrap().tenant_ids.push(tenant);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut visitor = MessageVisitor(false);
        event.record(&mut visitor);
        if !visitor.0 {
            return;
        }
        let tenant = ctx.event_scope(event).and_then(|scope| {
            scope
                .into_iter()
                .find(|span| span.name() == "tenancy")
                .and_then(|span| {
                    span.extensions()
                        .get::<TenantIdField>()
                        .map(|field| field.0.clone())
                })
        });
        self.0.lock().unwrap().handler_events.push(tenant);
    }
}
