//! Cost measurement: DynamoDB round trips and consumed capacity per HTTP request.
//!
//! Off unless `DOORSTEP_MEASURE_DYNAMODB=<path>` is set at a cold start. Then the DynamoDB
//! client asks for `ReturnConsumedCapacity::TOTAL` on every call and adds the calls and
//! units it gets back to the current request's tally, and every request appends one JSON
//! line to `<path>`: its route template, method, status, duration, calls by operation,
//! read and write capacity units. `infra/local/bench_cost.sh` drives it with the API test
//! suite; unset, neither the interceptor nor the middleware exists.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item, batch_write_item, delete_item, get_item, put_item, query, scan, transact_get_items,
    transact_write_items, update_item,
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

/// The variable that turns measurement on and names the JSON-lines file.
pub const MEASURE_ENV: &str = "DOORSTEP_MEASURE_DYNAMODB";

/// Where measurements go, when measuring.
pub fn output_path() -> Option<&'static str> {
    static PATH: OnceLock<Option<String>> = OnceLock::new();
    PATH.get_or_init(|| std::env::var(MEASURE_ENV).ok().filter(|p| !p.is_empty())).as_deref()
}

/// What one request cost in DynamoDB.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Tally {
    /// Round trips (attempts, retries included) per operation name.
    pub calls: BTreeMap<&'static str, u32>,
    /// Calls answered with an error (a failed condition, a cancelled transaction), whose
    /// response carries no consumed capacity.
    pub failed: BTreeMap<&'static str, u32>,
    pub read_units: f64,
    pub write_units: f64,
}

impl Tally {
    fn add(&mut self, operation: Operation, capacity: &[ConsumedCapacity]) {
        *self.calls.entry(operation.name).or_default() += 1;
        for consumed in capacity {
            let (read, write) = match (consumed.read_capacity_units, consumed.write_capacity_units) {
                (None, None) => {
                    let total = consumed.capacity_units.unwrap_or_default();
                    if operation.writes { (0.0, total) } else { (total, 0.0) }
                }
                (read, write) => (read.unwrap_or_default(), write.unwrap_or_default()),
            };
            self.read_units += read;
            self.write_units += write;
        }
    }

    fn fail(&mut self, operation: Operation) {
        *self.calls.entry(operation.name).or_default() += 1;
        *self.failed.entry(operation.name).or_default() += 1;
    }
}

tokio::task_local! {
    static TALLY: Arc<Mutex<Tally>>;
}

/// Runs `work` with a fresh tally and returns both; DynamoDB calls made inside it (in this
/// task: work spawned onto other tasks is not seen) are counted.
pub async fn tallied<F: Future>(work: F) -> (F::Output, Tally) {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let output = TALLY.scope(tally.clone(), work).await;
    let tally = tally.lock().map(|t| t.clone()).unwrap_or_default();
    (output, tally)
}

fn record(apply: impl FnOnce(&mut Tally)) {
    let _ = TALLY.try_with(|tally| {
        if let Ok(mut tally) = tally.lock() {
            apply(&mut tally);
        }
    });
}

#[derive(Debug, Clone, Copy)]
struct Operation {
    name: &'static str,
    writes: bool,
}

/// For each DynamoDB operation the API uses: its module, input, output and error types,
/// name, whether it writes, and whether its output reports one capacity or a list.
macro_rules! operations {
    ($action:ident!($($arg:tt)*)) => {
        $action!($($arg)*
            get_item::{GetItemInput, GetItemOutput, GetItemError} "GetItem" false one;
            put_item::{PutItemInput, PutItemOutput, PutItemError} "PutItem" true one;
            update_item::{UpdateItemInput, UpdateItemOutput, UpdateItemError} "UpdateItem" true one;
            delete_item::{DeleteItemInput, DeleteItemOutput, DeleteItemError} "DeleteItem" true one;
            query::{QueryInput, QueryOutput, QueryError} "Query" false one;
            scan::{ScanInput, ScanOutput, ScanError} "Scan" false one;
            batch_get_item::{BatchGetItemInput, BatchGetItemOutput, BatchGetItemError} "BatchGetItem" false many;
            batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput, BatchWriteItemError} "BatchWriteItem" true many;
            transact_get_items::{TransactGetItemsInput, TransactGetItemsOutput, TransactGetItemsError}
                "TransactGetItems" false many;
            transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput, TransactWriteItemsError}
                "TransactWriteItems" true many;
        )
    };
}

fn one(capacity: &Option<ConsumedCapacity>) -> Vec<ConsumedCapacity> {
    capacity.iter().cloned().collect()
}

fn many(capacity: &Option<Vec<ConsumedCapacity>>) -> Vec<ConsumedCapacity> {
    capacity.clone().unwrap_or_default()
}

/// Asks every DynamoDB call for its consumed capacity and adds what comes back to the
/// current request's tally.
#[derive(Debug)]
pub struct CapacityInterceptor;

impl Intercept for CapacityInterceptor {
    fn name(&self) -> &'static str {
        "CapacityInterceptor"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        macro_rules! ask {
            ($($module:ident::{$input:ident, $output:ident, $error:ident} $name:literal $writes:literal $pick:ident;)*) => {
                $(if let Some(input) = input.downcast_mut::<$module::$input>() {
                    input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
                    return Ok(());
                })*
            };
        }
        operations!(ask!());
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        macro_rules! count {
            ($($module:ident::{$input:ident, $output:ident, $error:ident} $name:literal $writes:literal $pick:ident;)*) => {
                match context.output_or_error() {
                    Ok(output) => {
                        $(if let Some(output) = output.downcast_ref::<$module::$output>() {
                            let capacity = $pick(&output.consumed_capacity);
                            record(|tally| tally.add(Operation { name: $name, writes: $writes }, &capacity));
                            return Ok(());
                        })*
                    }
                    Err(error) => {
                        let error = error.as_operation_error();
                        $(if error.and_then(|e| e.downcast_ref::<$module::$error>()).is_some() {
                            record(|tally| tally.fail(Operation { name: $name, writes: $writes }));
                            return Ok(());
                        })*
                    }
                }
            };
        }
        operations!(count!());
        record(|tally| tally.fail(Operation { name: "Other", writes: false }));
        Ok(())
    }
}

/// The DynamoDB client: with [`CapacityInterceptor`] when measuring, else plain.
pub fn dynamodb_client(sdk_config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    if output_path().is_none() {
        return aws_sdk_dynamodb::Client::new(sdk_config);
    }
    let config = aws_sdk_dynamodb::config::Builder::from(sdk_config).interceptor(CapacityInterceptor).build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// One request's line in the measurements file.
#[derive(Debug, Serialize)]
struct Line<'a> {
    route: &'a str,
    method: &'a str,
    status: u16,
    duration_ms: f64,
    #[serde(flatten)]
    tally: &'a Tally,
}

fn file() -> Option<&'static Mutex<File>> {
    static FILE: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = output_path()?;
        match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(Mutex::new(file)),
            Err(error) => {
                tracing::warn!(%error, path, "cannot open the DynamoDB measurements file");
                None
            }
        }
    })
    .as_ref()
}

/// Middleware (outermost, so admission and its rate-limit counter are counted): tallies
/// the request's DynamoDB calls and appends its line.
pub async fn measure(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    // `Router::layer` runs after routing, so the template is known here.
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let started = Instant::now();
    let (response, tally) = tallied(next.run(request)).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = route.as_deref().unwrap_or("(unmatched)");
    let line = Line { route, method: &method, status: response.status().as_u16(), duration_ms, tally: &tally };
    if let (Some(file), Ok(mut text)) = (file(), serde_json::to_string(&line)) {
        text.push('\n');
        if let Ok(mut file) = file.lock() {
            let _ = file.write_all(text.as_bytes());
        }
    }
    response
}
