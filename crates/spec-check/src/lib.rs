//! Validators built from the vendors' OpenAPI documents in `../shared/specs`,
//! for tests only: the sandbox's answers, and every request body the
//! connectors send, are checked against what the vendor published.
//! The folder exists on developers' machines and in CI, never on a user's:
//! [`specs_dir`] says so and the caller skips.

use serde_json::{json, Value};
use std::path::PathBuf;

pub use jsonschema::Validator;

/// `../shared/specs`, or `None` with a message when the folder is absent (it
/// is on developers' machines and in CI, never on a user's).
pub fn specs_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent; the fidelity checks need the vendors' documents",
            dir.display()
        );
        None
    }
}

/// An OpenAPI 3.0 document turned into something a JSON Schema (draft 4)
/// validator understands: `nullable` becomes a `null` type, and every schema
/// is reached through a `$ref` into the document itself.
pub struct Spec {
    doc: Value,
}

impl Spec {
    pub fn load(file: &str) -> Option<Self> {
        let path = specs_dir()?.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut doc: Value = if file.ends_with(".yaml") {
            serde_yaml::from_str(&text).unwrap()
        } else {
            serde_json::from_str(&text).unwrap()
        };
        nullable_to_null_type(&mut doc);
        Some(Self { doc })
    }

    /// The path as a JSON-pointer token, percent-encoded for use in a URI fragment.
    fn pointer_for(path: &str) -> String {
        escape(path).replace('{', "%7B").replace('}', "%7D")
    }

    /// A validator for the JSON schema at `pointer` (a `#/…` JSON pointer).
    pub fn validator(&self, pointer: &str) -> jsonschema::Validator {
        assert!(
            self.doc.pointer(&decode_ref(&pointer[1..])).is_some(),
            "no schema at {pointer}"
        );
        let mut root = self.doc.clone();
        root["$ref"] = json!(pointer);
        jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("cannot build a validator for {pointer}: {e}"))
    }

    pub fn response(&self, path: &str, method: &str, status: u16) -> jsonschema::Validator {
        self.validator(&format!(
            "#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
            Self::pointer_for(path)
        ))
    }

    pub fn request(&self, path: &str, method: &str) -> jsonschema::Validator {
        self.validator(&format!(
            "#/paths/{}/{method}/requestBody/content/application~1json/schema",
            Self::pointer_for(path)
        ))
    }
}

/// Fails with every error, so a wrong shape is fixed in one go.
pub fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("  at {}: {}", e.instance_path, e))
        .take(15)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the vendor's document:\n{}\n",
        errors.join("\n")
    );
}

pub fn assert_invalid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    assert!(
        !validator.is_valid(instance),
        "{what} should be refused by the vendor's document"
    );
}

/// OpenAPI's `nullable: true` in JSON Schema terms. A typed schema gets a
/// `null` type. Any other (a `$ref`, an `allOf`) must become "null or that",
/// which moves it: the original goes to `/x-nullable/N`, and every `$ref` that
/// pointed inside it is rewritten to follow.
fn nullable_to_null_type(doc: &mut Value) {
    let mut moved: Vec<String> = Vec::new();
    collect_untyped_nullables(doc, String::new(), &mut moved);
    let mut store = Vec::new();
    let mut renames: Vec<(String, String)> = Vec::new();
    for pointer in moved {
        let Some(node) = doc.pointer_mut(&pointer) else {
            continue;
        };
        let mut original = std::mem::take(node);
        if let Some(map) = original.as_object_mut() {
            map.remove("nullable");
        }
        let target = format!("/x-nullable/{}", store.len());
        *node = json!({"anyOf": [{"type": "null"}, {"$ref": format!("#{target}")}]});
        store.push(original);
        renames.push((pointer, target));
    }
    doc["x-nullable"] = Value::Array(store);
    // Longest first, so a node moved inside a moved node is found first.
    renames.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    rewrite_refs(doc, &renames);
    typed_nullables(doc);
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn collect_untyped_nullables(node: &Value, pointer: String, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                collect_untyped_nullables(value, format!("{pointer}/{}", escape(key)), out);
            }
            // Children first: they are moved before their parent.
            if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
                out.push(pointer);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                collect_untyped_nullables(value, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn decode_ref(reference: &str) -> String {
    reference
        .replace("%7B", "{")
        .replace("%7D", "}")
        .replace("%7b", "{")
        .replace("%7d", "}")
}

fn rewrite_refs(node: &mut Value, renames: &[(String, String)]) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                if let Some(pointer) = reference.strip_prefix('#').map(decode_ref) {
                    let hit = renames.iter().find(|(from, _)| {
                        pointer == *from
                            || pointer
                                .strip_prefix(from.as_str())
                                .is_some_and(|rest| rest.starts_with('/'))
                    });
                    if let Some((from, to)) = hit {
                        *reference = format!("#{to}{}", &pointer[from.len()..]);
                    }
                }
            }
            map.values_mut().for_each(|v| rewrite_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

fn typed_nullables(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    values.push(Value::Null);
                }
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
            }
            map.values_mut().for_each(typed_nullables);
        }
        Value::Array(items) => items.iter_mut().for_each(typed_nullables),
        _ => {}
    }
}
