//! `/api`: the OpenAPI document as a page for people, written by the portal itself from the
//! document (no JavaScript, nothing fetched from elsewhere).

use axum::response::Html;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A schema in a few words: its component's name, or its type.
fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    match (schema.get("type"), schema.get("items")) {
        (Some(Value::String(t)), Some(items)) if t == "array" => format!("array of {}", schema_name(items)),
        (Some(Value::String(t)), _) => escape(t),
        (Some(Value::Array(types)), _) => {
            escape(&types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "))
        }
        _ if schema.get("oneOf").is_some() => "one of several shapes".into(),
        _ => "any".into(),
    }
}

fn text(value: &Value, key: &str) -> String {
    escape(value.get(key).and_then(Value::as_str).unwrap_or_default())
}

fn operation(path: &str, method: &str, op: &Value) -> String {
    let mut html = format!(
        "<section class=\"card\" id=\"op-{method}-{id}\"><h2><code>{upper} {path}</code></h2><p>{summary}</p><p>{description}</p>",
        id = escape(&path.replace(['/', '.'], "-")),
        upper = method.to_uppercase(),
        path = escape(path),
        summary = text(op, "summary"),
        description = text(op, "description"),
    );
    if let Some(params) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        html.push_str("<h3>Parameters</h3><ul>");
        for p in params {
            let required =
                if p.get("required").and_then(Value::as_bool) == Some(true) { "required" } else { "optional" };
            html.push_str(&format!(
                "<li><code>{}</code> ({}, {required}, {}): {}</li>",
                text(p, "name"),
                text(p, "in"),
                p.get("schema").map(schema_name).unwrap_or_default(),
                text(p, "description")
            ));
        }
        html.push_str("</ul>");
    }
    if let Some(content) = op.pointer("/requestBody/content").and_then(Value::as_object) {
        html.push_str("<h3>Request body</h3><ul>");
        for (media, body) in content {
            let schema = body.get("schema").map(schema_name).unwrap_or_default();
            html.push_str(&format!("<li><code>{}</code>: {schema}</li>", escape(media)));
        }
        html.push_str("</ul>");
    }
    html.push_str("<h3>Responses</h3><ul>");
    for (status, response) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
        let bodies: Vec<String> = response
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(media, c)| {
                format!("<code>{}</code> {}", escape(media), c.get("schema").map(schema_name).unwrap_or_default())
            })
            .collect();
        html.push_str(&format!(
            "<li><strong>{}</strong> {}. {}</li>",
            escape(status),
            text(response, "description"),
            bodies.join(", ")
        ));
    }
    html.push_str("</ul></section>");
    html
}

fn schema_section(name: &str, schema: &Value) -> String {
    let mut html = format!(
        "<section class=\"card\" id=\"schema-{0}\"><h3>{0}</h3><p>{1}</p>",
        escape(name),
        text(schema, "description")
    );
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        html.push_str("<ul>");
        for (field, property) in properties {
            let need = if required.contains(&field.as_str()) { "" } else { ", optional" };
            html.push_str(&format!(
                "<li><code>{}</code> ({}{need}): {}</li>",
                escape(field),
                schema_name(property),
                text(property, "description")
            ));
        }
        html.push_str("</ul>");
    } else if schema.get("oneOf").is_some() {
        html.push_str("<p>One of several shapes, told apart by their <code>kind</code>: see the JSON document.</p>");
    }
    html.push_str("</section>");
    html
}

pub async fn api_page() -> Html<String> {
    let document: Value = serde_json::from_str(&super::document().1).unwrap_or_default();
    let info = document.get("info").cloned().unwrap_or_default();
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/pkg/insectid.css\"></head><body><main id=\"main\" class=\"api-doc\">\
         <p><a href=\"/\">Insect Identifier</a></p><h1>{title}</h1><p>{description}</p>\
         <p>The same as an <a href=\"/api/v1/openapi.json\">OpenAPI {version} document</a>. \
         Example: <code>curl -F image=@photo.jpg {origin}/api/v1/identify</code></p>",
        title = text(&info, "title"),
        description = text(&info, "description"),
        version = text(&document, "openapi"),
        origin = "https://your-portal",
    );
    for (path, item) in document.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                html.push_str(&operation(path, method, op));
            }
        }
    }
    html.push_str("<h2>Schemas</h2>");
    for (name, schema) in document.pointer("/components/schemas").and_then(Value::as_object).into_iter().flatten() {
        html.push_str(&schema_section(name, schema));
    }
    html.push_str("</main></body></html>");
    Html(html)
}
