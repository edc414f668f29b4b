//! The JSON part of a preview: the schema of a JSON document, or of the records of a JSON lines file,
//! inferred while the file streams through serde (no `serde_json::Value` is built, so a large annotation
//! file costs time but not memory). Objects keep their keys in order of first appearance, a key missing
//! from some of the objects is marked optional, arrays are summed up by their lengths and the merged schema
//! of their elements, and the depth and number of keys followed are capped.

use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{counted, one_line_name, open_data_file, widen, DistinctCounter};
use crate::error::{Error, Result};

/// Levels of nesting followed; deeper arrays and objects are named but not opened.
const MAX_DEPTH: usize = 4;
/// Keys followed per object; the values of any others are merged into one schema.
const MAX_KEYS: usize = 20;
/// Keys shown of an object used as a dictionary, one with more than twice [`MAX_KEYS`] keys.
const KEYS_SHOWN_IN_DICTIONARY: usize = 4;
/// Distinct other keys counted per object; past it the preview says "more than".
const DISTINCT_KEY_CAP: usize = 10_000;

/// What a preview says about one JSON file.
#[derive(Debug)]
pub(super) struct JsonSummary {
    /// Top-level values: 1 for a JSON document, one per line for JSON lines.
    records: u64,
    schema: Schema,
}

/// Reads a JSON document or a stream of them (JSON lines); invalid JSON is an error.
pub(super) fn summarise(path: &Path) -> Result<JsonSummary> {
    let mut deserializer = serde_json::Deserializer::from_reader(open_data_file(path)?);
    let mut schema = Schema::default();
    let mut records = 0;
    // `end` succeeds once only whitespace is left; any other failure shows again when parsing.
    while deserializer.end().is_err() {
        SchemaSeed {
            schema: &mut schema,
            depth: 0,
        }
        .deserialize(&mut deserializer)
        .map_err(|error| {
            Error::invalid(
                path,
                format!("not valid JSON: {error}"),
                "write one JSON document, or one JSON value a line (JSON lines)",
            )
        })?;
        records += 1;
    }
    Ok(JsonSummary { records, schema })
}

impl JsonSummary {
    /// `-> meta.json is JSON: object`, then a line per key, at most `line_limit` of them.
    pub(super) fn render(&self, name: &str, line_limit: usize) -> String {
        let description = describe(&self.schema);
        let mut lines = vec![match self.records {
            0 => return format!("-> {name} is empty."),
            1 => format!("-> {name} is JSON: {description}"),
            records => format!("-> {name} is JSON lines, {records} records: {description}"),
        }];
        let mut keys = Vec::new();
        render_keys(&self.schema, 1, &mut keys, line_limit.saturating_add(1));
        if keys.len() > line_limit {
            keys.truncate(line_limit);
            keys.push(format!("  … (schema cut at {line_limit} lines)"));
        }
        lines.extend(keys);
        lines.join("\n")
    }
}

/// Every kind of value seen at one place in the documents, merged.
#[derive(Debug, Default)]
struct Schema {
    null: bool,
    boolean: bool,
    integer: bool,
    number: bool,
    string: bool,
    array: Option<Box<ArraySchema>>,
    object: Option<Box<ObjectSchema>>,
}

impl Schema {
    fn is_empty(&self) -> bool {
        !(self.null || self.boolean || self.integer || self.number || self.string)
            && self.array.is_none()
            && self.object.is_none()
    }
}

/// Whether an array's elements or an object's keys were followed, or lay beyond [`MAX_DEPTH`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Contents {
    #[default]
    Followed,
    BeyondDepth,
}

#[derive(Debug, Default)]
struct ArraySchema {
    /// The fewest and the most elements seen.
    lengths: Option<(u64, u64)>,
    element: Schema,
    contents: Contents,
}

#[derive(Debug)]
struct ObjectSchema {
    /// Objects merged here, to tell optional keys.
    count: u64,
    keys: Vec<KeySchema>,
    /// Keys past [`MAX_KEYS`], counted by name; their values merge into `other_values`.
    other_keys: DistinctCounter,
    other_values: Schema,
    contents: Contents,
}

#[derive(Debug)]
struct KeySchema {
    name: String,
    /// Objects that held this key.
    present: u64,
    schema: Schema,
}

impl ObjectSchema {
    fn new() -> Self {
        ObjectSchema {
            count: 0,
            keys: Vec::new(),
            other_keys: DistinctCounter::new(DISTINCT_KEY_CAP),
            other_values: Schema::default(),
            contents: Contents::Followed,
        }
    }

    /// Where the value of `key` merges.
    fn value_schema(&mut self, key: String) -> &mut Schema {
        if let Some(index) = self.keys.iter().position(|known| known.name == key) {
            let known = &mut self.keys[index];
            known.present += 1;
            return &mut known.schema;
        }
        if self.keys.len() < MAX_KEYS {
            let index = self.keys.len();
            self.keys.push(KeySchema {
                name: key,
                present: 1,
                schema: Schema::default(),
            });
            return &mut self.keys[index].schema;
        }
        self.other_keys.insert(key.as_bytes());
        &mut self.other_values
    }
}

/// Merges the next value of a deserializer into `schema`.
struct SchemaSeed<'a> {
    schema: &'a mut Schema,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for SchemaSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SchemaSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.schema.boolean = true;
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.schema.integer = true;
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.schema.integer = true;
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.schema.number = true;
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.schema.string = true;
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.schema.null = true;
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.schema.null = true;
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<(), A::Error> {
        let array = self.schema.array.get_or_insert_with(Box::default);
        let mut length = 0;
        if self.depth < MAX_DEPTH {
            let depth = self.depth + 1;
            while sequence
                .next_element_seed(SchemaSeed {
                    schema: &mut array.element,
                    depth,
                })?
                .is_some()
            {
                length += 1;
            }
        } else {
            array.contents = Contents::BeyondDepth;
            while sequence.next_element::<IgnoredAny>()?.is_some() {
                length += 1;
            }
        }
        widen(&mut array.lengths, length);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let object = self
            .schema
            .object
            .get_or_insert_with(|| Box::new(ObjectSchema::new()));
        object.count += 1;
        if self.depth >= MAX_DEPTH {
            object.contents = Contents::BeyondDepth;
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(SchemaSeed {
                schema: object.value_schema(key),
                depth: self.depth + 1,
            })?;
        }
        Ok(())
    }
}

/// `string | null`, `array (3–17 items) of object`, `object`.
fn describe(schema: &Schema) -> String {
    let mut kinds = Vec::new();
    if let Some(object) = &schema.object {
        kinds.push(match object.contents {
            Contents::Followed if object.keys.is_empty() && object.other_keys.is_empty() => {
                "object (empty)"
            }
            Contents::Followed => "object",
            Contents::BeyondDepth => "object (not expanded)",
        });
    }
    let array_description = schema.array.as_ref().map(|array| describe_array(array));
    if let Some(description) = &array_description {
        kinds.push(description);
    }
    let scalars = [
        (schema.string, "string"),
        (schema.number, "number"),
        (schema.integer && !schema.number, "integer"),
        (schema.boolean, "boolean"),
        (schema.null, "null"),
    ];
    kinds.extend(
        scalars
            .iter()
            .filter(|(seen, _)| *seen)
            .map(|(_, kind)| *kind),
    );
    if kinds.is_empty() {
        "nothing".to_string()
    } else {
        kinds.join(" | ")
    }
}

fn describe_array(array: &ArraySchema) -> String {
    let length = match array.lengths {
        Some((fewest, most)) if fewest != most => format!("{fewest}–{most} items"),
        Some((count, _)) => counted(count, "item", "items"),
        None => "no items".to_string(),
    };
    match array.contents {
        Contents::Followed if !array.element.is_empty() => {
            format!("array ({length}) of {}", describe(&array.element))
        }
        Contents::Followed => format!("array ({length})"),
        Contents::BeyondDepth => format!("array ({length}, not expanded)"),
    }
}

/// The object whose keys are listed under `schema`: its own, or that of its (nested) array elements.
fn listed_object(schema: &Schema) -> Option<&ObjectSchema> {
    schema.object.as_deref().or_else(|| {
        schema
            .array
            .as_deref()
            .and_then(|array| listed_object(&array.element))
    })
}

/// A line per key of the object under `schema`, nested keys indented below, until `limit` lines. An object
/// used as a dictionary (far more keys than [`MAX_KEYS`], such as labels by image id) shows only its first
/// few keys and sums up the others by the schema of their values.
fn render_keys(schema: &Schema, indent: usize, lines: &mut Vec<String>, limit: usize) {
    let Some(object) = listed_object(schema) else {
        return;
    };
    let dictionary = match object.other_keys.exact_count() {
        Some(count) => count > MAX_KEYS,
        None => true,
    };
    let shown = if dictionary {
        KEYS_SHOWN_IN_DICTIONARY
    } else {
        object.keys.len()
    };
    let margin = "  ".repeat(indent);
    for key in object.keys.iter().take(shown) {
        if lines.len() >= limit {
            return;
        }
        let optional = if key.present < object.count { "?" } else { "" };
        lines.push(format!(
            "{margin}{}{optional}: {}",
            one_line_name(&key.name),
            describe(&key.schema)
        ));
        render_keys(&key.schema, indent + 1, lines, limit);
    }
    if object.other_keys.is_empty() || lines.len() >= limit {
        return;
    }
    let others = match object.other_keys.exact_count() {
        Some(count) => counted(
            (count + object.keys.len().saturating_sub(shown)) as u64,
            "other key",
            "other keys",
        ),
        None => format!("more than {DISTINCT_KEY_CAP} other keys"),
    };
    lines.push(format!(
        "{margin}… and {others}: {}",
        describe(&object.other_values)
    ));
    render_keys(&object.other_values, indent + 1, lines, limit);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview_of(file_name: &str, text: &str, line_limit: usize) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name);
        std::fs::write(&path, text).unwrap();
        summarise(&path).unwrap().render(file_name, line_limit)
    }

    #[test]
    fn a_document_shows_nested_keys_in_order_of_appearance() {
        let text = r#"{
            "info": {"version": "1.0", "year": 2020},
            "images": [
                {"id": 1, "file_name": "a.jpg", "width": 640.5, "tags": []},
                {"id": 2, "file_name": "b.jpg", "width": 480, "tags": ["x"], "note": null}
            ],
            "empty": {}
        }"#;
        assert_eq!(
            preview_of("annotations.json", text, 40),
            "-> annotations.json is JSON: object\n  \
             info: object\n    version: string\n    year: integer\n  \
             images: array (2 items) of object\n    id: integer\n    file_name: string\n    \
             width: number\n    tags: array (0–1 items) of string\n    note?: null\n  \
             empty: object (empty)"
        );
    }

    #[test]
    fn json_lines_merge_their_records() {
        let text =
            "{\"id\": 1, \"label\": \"cat\"}\n{\"id\": 2, \"label\": null, \"extra\": true}\n\n";
        assert_eq!(
            preview_of("train.jsonl", text, 40),
            "-> train.jsonl is JSON lines, 2 records: object\n  id: integer\n  label: string | null\n  extra?: boolean"
        );
    }

    #[test]
    fn deep_nesting_is_not_followed() {
        let text = r#"{"a": {"b": {"c": {"d": {"e": 1}, "list": [[1]]}}}}"#;
        assert_eq!(
            preview_of("deep.json", text, 40),
            "-> deep.json is JSON: object\n  a: object\n    b: object\n      c: object\n        \
             d: object (not expanded)\n        list: array (1 item, not expanded)"
        );
    }

    #[test]
    fn a_dictionary_shows_a_few_keys_and_sums_up_the_others() {
        let entries: Vec<String> = (0..100)
            .map(|index| format!("\"image_{index}\": {{\"label\": {index}}}"))
            .collect();
        let text = format!("{{{}}}", entries.join(", "));
        assert_eq!(
            preview_of("labels.json", &text, 100),
            "-> labels.json is JSON: object\n  image_0: object\n    label: integer\n  image_1: object\n    \
             label: integer\n  image_2: object\n    label: integer\n  image_3: object\n    label: integer\n  \
             … and 96 other keys: object\n    label: integer"
        );
    }

    #[test]
    fn a_wide_record_shows_its_first_keys_and_counts_the_others() {
        let entries: Vec<String> = (0..30)
            .map(|index| format!("\"field_{index}\": {index}"))
            .collect();
        let preview = preview_of("record.json", &format!("{{{}}}", entries.join(", ")), 100);
        let lines: Vec<&str> = preview.lines().collect();
        assert_eq!(lines.len(), 1 + MAX_KEYS + 1, "{preview}");
        assert_eq!(lines[20], "  field_19: integer");
        assert_eq!(lines[21], "  … and 10 other keys: integer");
    }

    #[test]
    fn the_schema_is_cut_at_its_line_limit() {
        let text = r#"{"a": 1, "b": 2, "c": 3, "d": 4}"#;
        assert_eq!(
            preview_of("wide.json", text, 2),
            "-> wide.json is JSON: object\n  a: integer\n  b: integer\n  … (schema cut at 2 lines)"
        );
    }

    #[test]
    fn top_level_arrays_and_scalars() {
        assert_eq!(
            preview_of("list.json", "[[1, 2.5], [3]]", 40),
            "-> list.json is JSON: array (2 items) of array (1–2 items) of number"
        );
        assert_eq!(
            preview_of("blank.json", "  \n", 40),
            "-> blank.json is empty."
        );
    }

    #[test]
    fn invalid_json_is_an_error_naming_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.json");
        std::fs::write(&path, "{\"a\": [1, 2").unwrap();
        let error = summarise(&path).unwrap_err().to_string();
        assert!(
            error.contains("not valid JSON: EOF while parsing"),
            "{error}"
        );
    }
}
