//! Script parameters (`--param day=2024-06-01`, `\set day 2024-06-01`).
//!
//! In SQL a parameter is written `$day`. It is bound through DataFusion's
//! placeholders as a typed literal after the statement is parsed and planned,
//! never spliced into the SQL text, so a value such as `'; DROP TABLE t; --`
//! stays one string. A value is text; where the placeholder's context gives
//! it a type (`WHERE day = $day` on a DATE column, `$n + 1`), the text is
//! converted to that type, and `CAST($n AS INT)` converts it anywhere else.
//!
//! Paths are not SQL: inside a quoted path (`FROM 'logs/${day}.csv'`,
//! `COPY ... TO 'out/${day}.parquet'`, `LOCATION '...'`) `${day}` is replaced
//! by the value after parsing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, ParamValues, Result, ScalarValue};
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::{Expr, LogicalPlan, Statement as PlanStatement};
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{ObjectNamePart, visit_relations_mut};

/// Parameter values by name (without the `$`), as the user gave them: text.
pub type Params = BTreeMap<String, String>;

/// Checks a parameter name: a letter or `_`, then letters, digits or `_`
/// (what SQL can write after `$`; `$1` is positional and not wasql's).
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts_well && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "invalid parameter name '{name}': use letters, digits and _, starting with a letter"
        ))
    }
}

/// The error for parameters the statement uses but nobody set.
fn unknown(names: impl IntoIterator<Item = String>) -> DataFusionError {
    let names: Vec<String> = names.into_iter().collect();
    let noun = if names.len() == 1 {
        "parameter"
    } else {
        "parameters"
    };
    let example = names[0]
        .trim_start_matches(['$', '{'])
        .trim_end_matches('}');
    DataFusionError::Plan(format!(
        "no value for {noun} {}: set it with --param {example}=VALUE or \\set {example} VALUE",
        names.join(", ")
    ))
}

/// Replaces every `$name` placeholder in `plan` with its value, converted to
/// the type DataFusion inferred for it (text where it inferred none).
/// `PREPARE` statements keep their placeholders for `EXECUTE`.
pub fn bind(plan: LogicalPlan, params: &Params) -> Result<LogicalPlan> {
    if matches!(plan, LogicalPlan::Statement(PlanStatement::Prepare(_))) {
        return Ok(plan);
    }
    let fields = parameter_types(&plan)?;
    if fields.is_empty() {
        return Ok(plan);
    }
    let missing: BTreeSet<String> = fields
        .keys()
        .filter(|id| !params.contains_key(&id[1..]))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(unknown(missing));
    }
    let values = fields
        .into_iter()
        .map(|(id, data_type)| {
            let name = id[1..].to_string();
            let value = typed(&id, &params[&name], data_type.as_ref())?;
            Ok((name, value.into()))
        })
        .collect::<Result<HashMap<_, _>>>()?;
    plan.with_param_values(ParamValues::Map(values))
}

/// The placeholders of `plan` by id (`$day`), each with the type one of its
/// uses gave it, if any. (DataFusion's `get_parameter_fields` forgets the
/// type when a later use, such as `CAST($n AS INT)`, gives none.)
fn parameter_types(plan: &LogicalPlan) -> Result<BTreeMap<String, Option<DataType>>> {
    let mut types = BTreeMap::new();
    plan.apply_with_subqueries(|plan| {
        plan.apply_expressions(|expr| {
            expr.apply(|expr| {
                if let Expr::Placeholder(Placeholder { id, field }) = expr {
                    let known = types.entry(id.clone()).or_insert(None);
                    if known.is_none() {
                        *known = field.as_ref().map(|f| f.data_type().clone());
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(types)
}

/// `text` as a value of `data_type`, or as text when the type is unknown.
fn typed(id: &str, text: &str, data_type: Option<&DataType>) -> Result<ScalarValue> {
    let value = ScalarValue::Utf8(Some(text.to_string()));
    match data_type {
        None | Some(DataType::Null | DataType::Utf8) => Ok(value),
        Some(data_type) => value.cast_to(data_type).map_err(|_| {
            DataFusionError::Plan(format!(
                "parameter {id} is used as {data_type}, but its value '{text}' is not one"
            ))
        }),
    }
}

/// Replaces `${name}` in the paths of a parsed statement: file tables in
/// `FROM`, the `COPY ... TO` target and `CREATE EXTERNAL TABLE` locations.
pub fn substitute_paths(statement: &mut Statement, params: &Params) -> Result<()> {
    let mut missing = BTreeSet::new();
    let mut fill = |path: &mut String| {
        if path.contains("${") {
            *path = fill_path(path, params, &mut missing);
        }
    };
    match statement {
        Statement::CopyTo(copy) => fill(&mut copy.target),
        Statement::CreateExternalTable(create) => create.locations.iter_mut().for_each(fill),
        Statement::Statement(statement) => {
            let _: ControlFlow<()> = visit_relations_mut(statement.as_mut(), |name| {
                for part in &mut name.0 {
                    if let ObjectNamePart::Identifier(ident) = part
                        && ident.quote_style.is_some()
                    {
                        fill(&mut ident.value);
                    }
                }
                ControlFlow::Continue(())
            });
        }
        _ => {}
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(unknown(missing))
    }
}

/// `path` with each `${name}` replaced; unknown names go to `missing`.
fn fill_path(path: &str, params: &Params, missing: &mut BTreeSet<String>) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + len];
        match params.get(name) {
            Some(value) => out.push_str(value),
            None => {
                missing.insert(format!("${{{name}}}"));
                out.push_str(&rest[start..=start + len]);
            }
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("day").is_ok());
        assert!(check_name("_x9").is_ok());
        assert!(check_name("1").is_err());
        assert!(check_name("a-b").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn paths() {
        let params = Params::from([("day".to_string(), "2024-06-01".to_string())]);
        let mut missing = BTreeSet::new();
        assert_eq!(
            fill_path("out/${day}/x-${day}.csv", &params, &mut missing),
            "out/2024-06-01/x-2024-06-01.csv"
        );
        assert!(missing.is_empty());
        assert_eq!(fill_path("a/${nope}", &params, &mut missing), "a/${nope}");
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), ["${nope}"]);
    }
}
