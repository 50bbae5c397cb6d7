//! `GET /v1/openapi.json`: the OpenAPI 3.1 document, built from the route table the router is
//! built from ([`Route`], `crate::routes`), so that a route and its documentation are one
//! entry. Schemas are derived (schemars) from the very types the handlers read and answer
//! with, and from the domain's command types (`custodia_domain::command_schemas`); problem
//! types come from [`PROBLEM_TYPES`].

use crate::auth::{Access, Role, ROLES};
use crate::error::{PROBLEM_TYPES, PROBLEM_TYPE_PREFIX};
use crate::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Json;
use schemars::gen::{SchemaGenerator, SchemaSettings};
use schemars::schema::Schema;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// Writes a schema into the generator's components and returns it (inline or a `$ref`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T` as a reference to the components (or inline for simple types).
pub fn schema_of<T: JsonSchema>(gen: &mut SchemaGenerator) -> Schema {
    gen.subschema_for::<T>()
}

/// A schema written as JSON (a hand-written one is checked by the document's tests).
pub fn raw(value: Value) -> Schema {
    serde_json::from_value(value).unwrap_or(Schema::Bool(true))
}

/// The inline object schema of `T`, whose properties become parameters.
fn object_of<T: JsonSchema>(gen: &mut SchemaGenerator) -> Schema {
    T::json_schema(gen)
}

/// What a successful answer carries.
#[derive(Debug, Clone)]
enum Success {
    /// A JSON document of this schema.
    Json(SchemaFn),
    /// A body of another media type.
    Other { media: &'static str, schema: Value },
}

/// The documentation of one operation.
#[derive(Debug, Clone)]
pub struct Doc {
    summary: &'static str,
    description: Option<&'static str>,
    access: Option<Access>,
    path_params: Option<SchemaFn>,
    query: Option<SchemaFn>,
    /// A header parameter: name, schema, description.
    header: Option<(&'static str, Value, &'static str)>,
    body: Option<Value>,
    body_fn: Option<SchemaFn>,
    status: u16,
    success: Success,
    problems: Vec<u16>,
}

impl Doc {
    /// An operation anyone may call.
    pub fn public(summary: &'static str) -> Self {
        Self {
            summary,
            description: None,
            access: None,
            path_params: None,
            query: None,
            header: None,
            body: None,
            body_fn: None,
            status: 200,
            success: Success::Other {
                media: "application/json",
                schema: json!({}),
            },
            problems: Vec::new(),
        }
    }

    /// An operation that needs a token whose role allows `access`.
    pub fn with(access: Access, summary: &'static str) -> Self {
        Self {
            access: Some(access),
            problems: vec![401, 403, 429],
            ..Self::public(summary)
        }
    }

    /// A longer description.
    pub fn describe(mut self, text: &'static str) -> Self {
        self.description = Some(text);
        self
    }

    /// Path parameters, the properties of `T` (an object the handler reads the path into).
    pub fn path<T: JsonSchema>(mut self) -> Self {
        self.path_params = Some(object_of::<T>);
        self.problems.push(400);
        self
    }

    /// Query parameters, the properties of `T`.
    pub fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(object_of::<T>);
        self.problems.push(400);
        self
    }

    /// A header parameter.
    pub fn header(mut self, name: &'static str, schema: Value, description: &'static str) -> Self {
        self.header = Some((name, schema, description));
        self
    }

    /// A JSON body of type `T`.
    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.body_fn = Some(schema_of::<T>);
        self.problems.extend([400, 413, 415, 422]);
        self
    }

    /// A JSON body of this schema.
    pub fn body_schema(mut self, schema: Value) -> Self {
        self.body = Some(schema);
        self.problems.extend([400, 413, 415, 422]);
        self
    }

    /// Answers `T` as JSON with status 200.
    pub fn ok<T: JsonSchema>(mut self) -> Self {
        self.success = Success::Json(schema_of::<T>);
        self
    }

    /// Answers `T` as JSON with status 201 (something was recorded).
    pub fn created<T: JsonSchema>(mut self) -> Self {
        self.status = 201;
        self.ok::<T>()
    }

    /// Answers a body of another media type.
    pub fn ok_media(mut self, media: &'static str, schema: Value) -> Self {
        self.success = Success::Other { media, schema };
        self
    }

    /// Further problem statuses this operation may answer.
    pub fn problems(mut self, statuses: &[u16]) -> Self {
        self.problems.extend_from_slice(statuses);
        self
    }
}

/// One route: a method and path, its handler, and its documentation.
#[derive(Debug)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path, in the syntax both axum and OpenAPI use (`/v1/entries/{key}`).
    pub path: String,
    /// Its documentation.
    pub doc: Doc,
    /// Whether the request timeout applies (not to long-lived answers: streams, exports).
    pub timed: bool,
    pub(crate) handler: MethodRouter<AppState>,
}

impl Route {
    /// A `GET` route.
    pub fn get<H: Handler<T, AppState>, T: 'static>(
        path: impl Into<String>,
        handler: H,
        doc: Doc,
    ) -> Self {
        Self::new(Method::GET, path.into(), axum::routing::get(handler), doc)
    }

    /// A `POST` route.
    pub fn post<H: Handler<T, AppState>, T: 'static>(
        path: impl Into<String>,
        handler: H,
        doc: Doc,
    ) -> Self {
        Self::new(Method::POST, path.into(), axum::routing::post(handler), doc)
    }

    fn new(method: Method, path: String, handler: MethodRouter<AppState>, mut doc: Doc) -> Self {
        doc.problems.push(408);
        Self {
            method,
            path,
            doc,
            timed: true,
            handler,
        }
    }

    /// Without the request timeout: the answer lasts as long as the client reads.
    pub fn untimed(mut self) -> Self {
        self.timed = false;
        self.doc.problems.retain(|s| *s != 408);
        self
    }
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2019_09()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator()
}

fn to_value(schema: &Schema) -> Value {
    serde_json::to_value(schema).unwrap_or_default()
}

/// Rewrites draft-07 `#/definitions/` references to the document's components.
fn rehome(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                *r = r.replace("#/definitions/", "#/components/schemas/");
            }
            map.values_mut().for_each(rehome);
        }
        Value::Array(items) => items.iter_mut().for_each(rehome),
        _ => {}
    }
}

/// A parameter's schema: an `Option` is expressed by `required`, not by a `null` type or a
/// `null` default.
fn without_null(mut schema: Value) -> Value {
    if schema.get("default") == Some(&Value::Null) {
        if let Some(map) = schema.as_object_mut() {
            map.remove("default");
        }
    }
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            schema["type"] = types[0].clone();
        }
    }
    if let Some(Value::Array(any)) = schema.get("anyOf") {
        let rest: Vec<&Value> = any.iter().filter(|s| s["type"] != "null").collect();
        if let [only] = rest[..] {
            return only.clone();
        }
    }
    schema
}

/// The parameters `location` of an object schema's properties.
fn parameters(object: &Schema, location: &str) -> Vec<Value> {
    let object = to_value(object);
    let required: Vec<&str> = object["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = object["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let mut schema = without_null(schema.clone());
            let description = schema
                .as_object_mut()
                .and_then(|s| s.remove("description"))
                .unwrap_or(Value::Null);
            let mut p = json!({
                "name": name,
                "in": location,
                "required": location == "path" || required.contains(&name.as_str()),
                "schema": schema,
            });
            if !description.is_null() {
                p["description"] = description;
            }
            p
        })
        .collect()
}

fn roles_for(access: Option<Access>) -> Vec<&'static str> {
    match access {
        None => vec!["anyone"],
        Some(a) => ROLES
            .into_iter()
            .filter(|r| r.may(a))
            .map(Role::as_str)
            .collect(),
    }
}

fn operation(route: &Route, gen: &mut SchemaGenerator) -> Value {
    let doc = &route.doc;
    let roles = format!("Roles: {}.", roles_for(doc.access).join(", "));
    let description = match doc.description {
        Some(text) => format!("{text}\n\n{roles}"),
        None => roles,
    };
    let mut op = json!({"summary": doc.summary, "description": description});
    let mut params = Vec::new();
    if let Some(f) = doc.path_params {
        params.extend(parameters(&f(gen), "path"));
    }
    if let Some(f) = doc.query {
        params.extend(parameters(&f(gen), "query"));
    }
    if let Some((name, schema, description)) = &doc.header {
        params.push(json!({"name": name, "in": "header", "required": false,
                           "schema": schema, "description": description}));
    }
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    let body = match (&doc.body, doc.body_fn) {
        (Some(schema), _) => Some(schema.clone()),
        (None, Some(f)) => Some(to_value(&f(gen))),
        (None, None) => None,
    };
    if let Some(schema) = body {
        op["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    let (media, schema) = match &doc.success {
        Success::Json(f) => ("application/json", to_value(&f(gen))),
        Success::Other { media, schema } => (*media, schema.clone()),
    };
    let mut responses = Map::new();
    let what = if doc.status == 201 { "Recorded" } else { "OK" };
    responses.insert(
        doc.status.to_string(),
        json!({"description": what, "content": {media: {"schema": schema}}}),
    );
    let mut statuses = doc.problems.clone();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/Problem{status}")}),
        );
    }
    responses.insert(
        "default".into(),
        json!({"$ref": "#/components/responses/Problem"}),
    );
    op["responses"] = Value::Object(responses);
    if doc.access.is_some() {
        op["security"] = json!([{"bearer": []}]);
    }
    op
}

/// The problem document's schema, and a response per status naming its types.
fn problem_components() -> (Value, Map<String, Value>) {
    let urns: Vec<String> = PROBLEM_TYPES
        .iter()
        .map(|t| format!("{PROBLEM_TYPE_PREFIX}{}", t.name))
        .collect();
    let table: Vec<String> = PROBLEM_TYPES
        .iter()
        .map(|t| {
            format!(
                "- `{PROBLEM_TYPE_PREFIX}{}` ({}): {}",
                t.name, t.status, t.when
            )
        })
        .collect();
    let schema = json!({
        "type": "object",
        "description": format!("An RFC 9457 problem document. Its `type` is one of:\n\n{}", table.join("\n")),
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "enum": urns},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "What was wrong and where."},
        },
    });
    let mut responses = Map::new();
    let content = |schema: Value| json!({crate::error::PROBLEM_JSON: {"schema": schema}});
    let mut statuses: Vec<u16> = PROBLEM_TYPES.iter().map(|t| t.status).collect();
    statuses.dedup();
    for status in statuses {
        let types: Vec<&_> = PROBLEM_TYPES
            .iter()
            .filter(|t| t.status == status)
            .collect();
        let urns: Vec<String> = types
            .iter()
            .map(|t| format!("{PROBLEM_TYPE_PREFIX}{}", t.name))
            .collect();
        let when: Vec<String> = types
            .iter()
            .map(|t| format!("`{}`: {}", t.name, t.when))
            .collect();
        let schema = json!({"allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {"properties": {"type": {"enum": urns}, "status": {"const": status}}},
        ]});
        responses.insert(
            format!("Problem{status}"),
            json!({"description": when.join("; "), "content": content(schema)}),
        );
    }
    responses.insert(
        "Problem".into(),
        json!({"description": "Any other problem the HTTP layer or the server may answer \
                               (414, 431, 500, 503, …).",
               "content": content(json!({"$ref": "#/components/schemas/Problem"}))}),
    );
    (schema, responses)
}

/// The whole document, for `routes`.
pub fn build(routes: &[Route]) -> Value {
    let mut gen = generator();
    let mut paths = Map::new();
    for route in routes {
        let op = operation(route, &mut gen);
        let item = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
        item[route.method.as_str().to_lowercase()] = op;
    }
    let mut schemas = Map::new();
    for (name, schema) in gen.take_definitions() {
        schemas.insert(name, to_value(&schema));
    }
    for (name, schema) in crate::commands::command_definitions() {
        schemas.entry(name).or_insert(schema);
    }
    let (problem, responses) = problem_components();
    schemas.insert("Problem".into(), problem);
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "custodia", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The HTTP API of a custodia ledger: an ISO 28000 SMS whose history can be proved. \
                                 Errors are RFC 9457 problem documents (`application/problem+json`). \
                                 Request bodies are JSON under the ledger's rules (LEDGER-FORMAT §1): no key twice \
                                 in an object (`duplicate-key`), and numbers are integers within ±(2^53−1) written \
                                 without fraction or exponent, so `2.0` is refused (`json-value`) though JSON Schema \
                                 counts it an integer. Numbers in paths, queries and headers are canonical decimals \
                                 (`5`, never `05` or `+5`)."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from `custodia tokens create`."}},
        },
    });
    rehome(&mut doc);
    doc
}

/// `GET /v1/openapi.json`.
pub(crate) async fn document() -> Json<Value> {
    Json(crate::DOCUMENT.clone())
}
