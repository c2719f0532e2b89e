//! The load benchmark's baselines on actix-web: `GET /items` from one schema,
//! or from the schema the `Host` names by hand (`BASELINE_BY_HOST=1`); no tenancy.

use actix_web::http::header::HOST;
use actix_web::web::{self, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use sqlx::PgPool;
use tenancy_examples::baseline::{BaselineConfig, list_items, list_items_of_host};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = BaselineConfig::from_env()?;
    let pool = config.pool().await?;
    let by_host = config.by_host;
    let server = HttpServer::new(move || {
        let app = App::new().app_data(Data::new(pool.clone()));
        if by_host {
            app.route("/items", web::get().to(items_of_host))
        } else {
            app.route("/items", web::get().to(items))
        }
    })
    .shutdown_timeout(10)
    .bind(config.listen)?;
    if let Some(addr) = server.addrs().first() {
        tenancy_examples::announce(*addr);
    }
    server.run().await?;
    Ok(())
}

async fn items_of_host(pool: Data<PgPool>, request: HttpRequest) -> HttpResponse {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|host| host.to_str().ok());
    match list_items_of_host(&pool, host.unwrap_or_default()).await {
        Ok(Some(items)) => HttpResponse::Ok().json(items),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

async fn items(pool: Data<PgPool>) -> HttpResponse {
    match list_items(&pool).await {
        Ok(items) => HttpResponse::Ok().json(items),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}
