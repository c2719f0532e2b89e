//! The load benchmark's baseline on actix-web: `GET /items` from one schema, no tenancy.

use actix_web::web::{self, Data};
use actix_web::{App, HttpResponse, HttpServer};
use sqlx::PgPool;
use tenancy_examples::baseline::{BaselineConfig, list_items};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = BaselineConfig::from_env()?;
    let pool = config.pool().await?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(Data::new(pool.clone()))
            .route("/items", web::get().to(items))
    })
    .shutdown_timeout(10)
    .bind(config.listen)?;
    if let Some(addr) = server.addrs().first() {
        tenancy_examples::announce(*addr);
    }
    server.run().await?;
    Ok(())
}

async fn items(pool: Data<PgPool>) -> HttpResponse {
    match list_items(&pool).await {
        Ok(items) => HttpResponse::Ok().json(items),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}
