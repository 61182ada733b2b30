//! The session functions PostgreSQL clients call on connecting and in their metadata queries:
//! `version()` (and `pg_catalog.version()`) in PostgreSQL's form, which SQLAlchemy and BI tools
//! parse; `current_database()`, `current_schema()`, `current_schemas(bool)`, `pg_backend_pid()`.
//! Each is a constant of the statement's session (its default database), made with the session.
//! Sessions of the PostgreSQL wire also have `current_user`, `session_user` and `user`: the
//! access key id the session logged in with.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;

/// What `version()` answers: PostgreSQL's shape (clients read the major and minor version from
/// its second word), then what tarn is.
#[must_use]
pub fn version_text() -> String {
    format!(
        "PostgreSQL 14.0 on x86_64-pc-linux-gnu, compiled by tarn {} (Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    )
}

fn constant(name: &str, inputs: Vec<DataType>, value: ScalarValue) -> ScalarUDF {
    let ty = value.data_type();
    create_udf(name, inputs, ty, Volatility::Stable, Arc::new(move |_| Ok(ColumnarValue::Scalar(value.clone()))))
}

/// Registers the functions on a session whose default schema is `database`.
pub fn register(ctx: &SessionContext, database: &str) {
    let text = |s: String| ScalarValue::Utf8(Some(s));
    for name in ["version", "pg_catalog.version"] {
        ctx.register_udf(constant(name, vec![], text(version_text())));
    }
    for name in ["current_database", "pg_catalog.current_database"] {
        ctx.register_udf(constant(name, vec![], text(database.to_string())));
    }
    for name in ["current_schema", "pg_catalog.current_schema"] {
        ctx.register_udf(constant(name, vec![], text(database.to_string())));
    }
    // current_schemas(true) has the implicit pg_catalog first, as PostgreSQL's
    let list = |names: &[&str]| {
        let values: Vec<ScalarValue> = names.iter().map(|n| text((*n).to_string())).collect();
        ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Utf8))
    };
    let explicit = list(&[database]);
    let implicit = list(&["pg_catalog", database]);
    let ty = explicit.data_type();
    for name in ["current_schemas", "pg_catalog.current_schemas"] {
        let (explicit, implicit) = (explicit.clone(), implicit.clone());
        let f = move |args: &[ColumnarValue]| -> datafusion::common::Result<ColumnarValue> {
            let pick = |b: Option<bool>| if b == Some(true) { implicit.clone() } else { explicit.clone() };
            match args.first() {
                Some(ColumnarValue::Scalar(ScalarValue::Boolean(b))) => Ok(ColumnarValue::Scalar(pick(*b))),
                Some(ColumnarValue::Array(a)) => {
                    use datafusion::arrow::array::AsArray;
                    let values = a.as_boolean().iter().map(pick);
                    Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
                }
                _ => Ok(ColumnarValue::Scalar(explicit.clone())),
            }
        };
        ctx.register_udf(create_udf(name, vec![DataType::Boolean], ty.clone(), Volatility::Stable, Arc::new(f)));
    }
    let pid = ScalarValue::Int32(Some(i32::try_from(std::process::id()).unwrap_or(i32::MAX)));
    for name in ["pg_backend_pid", "pg_catalog.pg_backend_pid"] {
        ctx.register_udf(constant(name, vec![], pid.clone()));
    }
}

/// [`register`], and the session user's functions, for a session of the PostgreSQL wire.
/// `connection` is the database the session connected to (what `current_database()`
/// answers), `database` the statement's default schema.
pub fn register_session(ctx: &SessionContext, database: &str, connection: &str, user: &str) {
    register(ctx, database);
    for name in ["current_database", "pg_catalog.current_database"] {
        ctx.register_udf(constant(name, vec![], ScalarValue::Utf8(Some(connection.to_string()))));
    }
    for name in ["current_user", "session_user", "user", "current_role"] {
        ctx.register_udf(constant(name, vec![], ScalarValue::Utf8(Some(user.to_string()))));
    }
    // temporary tables are plain relations of their schema: no schema is another session's
    for name in ["pg_is_other_temp_schema", "pg_catalog.pg_is_other_temp_schema"] {
        ctx.register_udf(constant(name, vec![DataType::Int64], ScalarValue::Boolean(Some(false))));
    }
}
