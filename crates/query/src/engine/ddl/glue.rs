//! A Hive table definition as Glue stores it: the column list, the column types, `ROW FORMAT`,
//! `STORED AS` and the other clauses of CREATE TABLE mapped to Glue's `Table`,
//! `StorageDescriptor` and `SerDeInfo`, with the SerDe and file format class names.

use std::collections::BTreeMap;

use tarn_catalog::{Column, Order, SerDeInfo, StorageDescriptor, Table};

use super::lexer::{Tok, Token, line_col};
use super::parser::Parser;

pub(super) const LAZY_SIMPLE_SERDE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
pub(super) const OPENX_JSON_SERDE: &str = "org.openx.data.jsonserde.JsonSerDe";
pub(super) const TEXT_INPUT: &str = "org.apache.hadoop.mapred.TextInputFormat";
pub(super) const TEXT_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";

impl Parser<'_> {
    /// `(columns) [COMMENT ..] [PARTITIONED BY ..] [CLUSTERED BY ..] [ROW FORMAT ..] [STORED AS ..]
    /// [LOCATION ..] [TBLPROPERTIES ..]`, as Athena writes it into Glue.
    pub(super) fn hive_table(
        &mut self,
        database: Option<String>,
        name: String,
        external: bool,
    ) -> Result<Table, String> {
        let start = self.peek()?.clone();
        let columns = self.column_list()?;
        let mut description = None;
        let mut partition_keys: Option<Vec<Column>> = None;
        let mut buckets: Option<(Vec<String>, Vec<Order>, i64, Token)> = None;
        let mut row_format: Option<(String, BTreeMap<String, String>)> = None;
        let mut stored: Option<(String, String, Option<&'static str>)> = None;
        let mut location = None;
        let mut tblproperties: Option<BTreeMap<String, String>> = None;
        const CLAUSES: [&str; 7] = [
            "'COMMENT'",
            "'PARTITIONED BY'",
            "'CLUSTERED BY'",
            "'ROW FORMAT'",
            "'STORED AS'",
            "'LOCATION'",
            "'TBLPROPERTIES'",
        ];
        loop {
            let t = self.peek()?.clone();
            let dup = |p: &Self, what: &str| Err(p.error_at(&t, &format!("duplicate {what} clause")));
            if self.eat_kw("COMMENT")? {
                if description.is_some() {
                    return dup(self, "COMMENT");
                }
                description = Some(self.string("comment string")?);
            } else if self.eat_kw("PARTITIONED")? {
                if partition_keys.is_some() {
                    return dup(self, "PARTITIONED BY");
                }
                self.expect_kw("BY")?;
                partition_keys = Some(self.column_list()?);
            } else if self.eat_kw("CLUSTERED")? {
                if buckets.is_some() {
                    return dup(self, "CLUSTERED BY");
                }
                self.expect_kw("BY")?;
                let cols = self.name_list("column name")?;
                let mut sort = Vec::new();
                if self.eat_kw("SORTED")? {
                    self.expect_kw("BY")?;
                    self.expect_sym('(')?;
                    loop {
                        let column = self.ident("column name")?;
                        let sort_order = if self.eat_kw("DESC")? {
                            0
                        } else {
                            self.eat_kw("ASC")?;
                            1
                        };
                        sort.push(Order { column, sort_order });
                        if self.eat_sym(',')? {
                            continue;
                        }
                        self.expect_sym(')')?;
                        break;
                    }
                }
                self.expect_kw("INTO")?;
                let n = self.advance()?;
                let count = match &n.tok {
                    Tok::Num(v) => v.parse::<i64>().ok().filter(|c| *c > 0),
                    _ => None,
                };
                let Some(count) = count else {
                    return Err(self.mismatched(&n, &["number of buckets"]));
                };
                self.expect_kw("BUCKETS")?;
                buckets = Some((cols, sort, count, t));
            } else if self.eat_kw("ROW")? {
                if row_format.is_some() {
                    return dup(self, "ROW FORMAT");
                }
                self.expect_kw("FORMAT")?;
                row_format = Some(self.row_format()?);
            } else if self.eat_kw("STORED")? {
                if stored.is_some() {
                    return dup(self, "STORED AS");
                }
                self.expect_kw("AS")?;
                stored = Some(self.stored_as()?);
            } else if self.eat_kw("LOCATION")? {
                if location.is_some() {
                    return dup(self, "LOCATION");
                }
                location = Some(self.string("location string")?);
            } else if self.eat_kw("TBLPROPERTIES")? {
                if tblproperties.is_some() {
                    return dup(self, "TBLPROPERTIES");
                }
                tblproperties = Some(self.string_map()?);
            } else {
                self.end(&CLAUSES)?;
                break;
            }
        }

        // Hive's checks on the columns.
        let partition_keys = partition_keys.unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        for c in &columns {
            if !seen.insert(c.name.as_str()) {
                return Err(self.error_at(&start, &format!("Duplicate column name: {}", c.name)));
            }
        }
        for k in &partition_keys {
            if !seen.insert(k.name.as_str()) {
                return Err(self.error_at(&start, &format!("Column repeated in partitioning columns: {}", k.name)));
            }
        }
        let (bucket_columns, sort_columns, number_of_buckets) = match buckets {
            Some((cols, sort, n, t)) => {
                for c in cols.iter().chain(sort.iter().map(|o| &o.column)) {
                    if !columns.iter().any(|col| &col.name == c) {
                        return Err(self.error_at(&t, &format!("Invalid column reference '{c}' in CLUSTERED BY")));
                    }
                }
                (cols, sort, n)
            }
            None => (Vec::new(), Vec::new(), -1),
        };
        if external && location.is_none() {
            return Err(format!("{}: Must specify LOCATION for external table", line_col(self.src, start.start)));
        }

        let (input_format, output_format, stored_serde) =
            stored.unwrap_or_else(|| (TEXT_INPUT.to_string(), TEXT_OUTPUT.to_string(), Some(LAZY_SIMPLE_SERDE)));
        let (library, mut serde_params) = match row_format {
            Some(rf) => rf,
            None => (stored_serde.unwrap_or(LAZY_SIMPLE_SERDE).to_string(), BTreeMap::new()),
        };
        serde_params.entry("serialization.format".to_string()).or_insert_with(|| "1".to_string());

        let mut parameters = tblproperties.unwrap_or_default();
        if external {
            parameters.insert("EXTERNAL".to_string(), "TRUE".to_string());
        }
        if !parameters.contains_key("classification")
            && let Some(c) = classification(&input_format, &library)
        {
            parameters.insert("classification".to_string(), c.to_string());
        }
        let iceberg = parameters.get("table_type").is_some_and(|t| t.eq_ignore_ascii_case("ICEBERG"));
        let table_type = if external || iceberg { "EXTERNAL_TABLE" } else { "MANAGED_TABLE" };

        Ok(Table {
            name,
            database_name: database,
            description,
            storage_descriptor: Some(StorageDescriptor {
                columns,
                location,
                input_format: Some(input_format),
                output_format: Some(output_format),
                compressed: false,
                number_of_buckets,
                serde_info: Some(SerDeInfo {
                    name: None,
                    serialization_library: Some(library),
                    parameters: serde_params,
                }),
                bucket_columns,
                sort_columns,
                ..StorageDescriptor::default()
            }),
            partition_keys,
            table_type: Some(table_type.to_string()),
            parameters,
            ..Table::default()
        })
    }

    /// `(name type [COMMENT '..'], ...)`, at least one.
    fn column_list(&mut self) -> Result<Vec<Column>, String> {
        let open = self.peek()?.clone();
        if open.tok != Tok::Sym('(') {
            let t = self.advance()?;
            return Err(format!("missing column list: {}", self.mismatched(&t, &["'('"])));
        }
        self.advance()?;
        if self.at_sym(')')? {
            let t = self.advance()?;
            return Err(self.error_at(&t, "empty column list: a table needs at least one column"));
        }
        let mut out = Vec::new();
        loop {
            let name = self.ident("column name")?;
            let ty = self.data_type()?;
            let mut col = Column::new(name, ty);
            if self.eat_kw("COMMENT")? {
                col.comment = Some(self.string("comment string")?);
            }
            out.push(col);
            if self.eat_sym(',')? {
                continue;
            }
            let t = self.advance()?;
            match t.tok {
                Tok::Sym(')') => return Ok(out),
                Tok::Eof => {
                    return Err(format!(
                        "{}: unbalanced parentheses: the column list opened at {} is never closed",
                        line_col(self.src, t.start),
                        line_col(self.src, open.start)
                    ));
                }
                _ => return Err(self.mismatched(&t, &["','", "')'", "'COMMENT'"])),
            }
        }
    }

    /// A column type in Glue's lower-case spelling, nested types with their brackets.
    fn data_type(&mut self) -> Result<String, String> {
        let t = self.advance()?;
        let Tok::Word(w) = &t.tok else {
            return Err(self.mismatched(&t, &["column type"]));
        };
        let lw = w.to_ascii_lowercase();
        let ty = match lw.as_str() {
            "varchar" if self.postgres && !self.at_sym('(')? => "string".to_string(),
            "timestamp" if self.postgres && (self.at_kw("WITH")? || self.at_kw("WITHOUT")?) => {
                self.advance()?;
                self.expect_kw("TIME")?;
                self.expect_kw("ZONE")?;
                "timestamp".to_string()
            }
            "double" if self.postgres && self.at_kw("PRECISION")? => {
                self.advance()?;
                "double".to_string()
            }
            "tinyint" | "smallint" | "bigint" | "float" | "double" | "boolean" | "string" | "date" | "timestamp"
            | "binary" => lw,
            "int" | "integer" => "int".to_string(),
            "real" => "float".to_string(),
            "decimal" | "numeric" => {
                if self.eat_sym('(')? {
                    let p = self.integer("precision")?;
                    if self.eat_sym(',')? {
                        let s = self.integer("scale")?;
                        self.expect_sym(')')?;
                        format!("decimal({p},{s})")
                    } else {
                        self.expect_sym(')')?;
                        format!("decimal({p})")
                    }
                } else {
                    "decimal".to_string()
                }
            }
            "varchar" | "char" => {
                if !self.at_sym('(')? {
                    let n = self.advance()?;
                    return Err(format!("{lw} needs a length: {}", self.mismatched(&n, &["'('"])));
                }
                self.advance()?;
                let n = self.integer("length")?;
                self.expect_sym(')')?;
                format!("{lw}({n})")
            }
            "array" => {
                self.expect_sym('<')?;
                let inner = self.data_type()?;
                self.expect_sym('>')?;
                format!("array<{inner}>")
            }
            "map" => {
                self.expect_sym('<')?;
                let k = self.data_type()?;
                self.expect_sym(',')?;
                let v = self.data_type()?;
                self.expect_sym('>')?;
                format!("map<{k},{v}>")
            }
            "struct" => {
                self.expect_sym('<')?;
                let mut fields = Vec::new();
                loop {
                    let f = self.advance()?;
                    let name = match &f.tok {
                        Tok::Word(n) => n.clone(),
                        Tok::Quoted(n) if !n.is_empty() => format!("`{}`", n.replace('`', "``")),
                        _ => return Err(self.mismatched(&f, &["field name"])),
                    };
                    self.expect_sym(':')?;
                    let ty = self.data_type()?;
                    if self.eat_kw("COMMENT")? {
                        self.string("comment string")?;
                    }
                    fields.push(format!("{name}:{ty}"));
                    if self.eat_sym(',')? {
                        continue;
                    }
                    self.expect_sym('>')?;
                    break;
                }
                format!("struct<{}>", fields.join(","))
            }
            _ if self.postgres => match self.postgres_type(&lw)? {
                Some(ty) => ty,
                None => return Err(self.error_at(&t, &format!("type \"{w}\" does not exist"))),
            },
            _ => return Err(self.error_at(&t, &format!("Unknown type '{w}'"))),
        };
        Ok(ty)
    }

    /// PostgreSQL's and Redshift's type names (after the first word `w`), in Glue's spelling.
    fn postgres_type(&mut self, w: &str) -> Result<Option<String>, String> {
        let ty = match w {
            "int2" => "smallint",
            "int4" => "int",
            "int8" => "bigint",
            "float4" => "float",
            "float8" => "double",
            "bool" => "boolean",
            "text" | "bpchar" | "name" => "string",
            "bytea" => "binary",
            "timestamptz" => "timestamp",
            "character" => {
                let varying = self.eat_kw("VARYING")?;
                if self.eat_sym('(')? {
                    let n = self.integer("length")?;
                    self.expect_sym(')')?;
                    return Ok(Some(format!("{}({n})", if varying { "varchar" } else { "char" })));
                }
                if varying { "string" } else { "char(1)" }
            }
            _ => return Ok(None),
        };
        Ok(Some(ty.to_string()))
    }

    fn integer(&mut self, what: &str) -> Result<u32, String> {
        let t = self.advance()?;
        match &t.tok {
            Tok::Num(n) => n.parse::<u32>().map_err(|_| self.mismatched(&t, &[what])),
            _ => Err(self.mismatched(&t, &[what])),
        }
    }

    /// `DELIMITED ...` or `SERDE 'class' [WITH SERDEPROPERTIES (...)]`: the SerDe library and
    /// its parameters.
    fn row_format(&mut self) -> Result<(String, BTreeMap<String, String>), String> {
        if self.eat_kw("SERDE")? {
            let library = self.string("SerDe class name")?;
            let params = if self.eat_kw("WITH")? {
                self.expect_kw("SERDEPROPERTIES")?;
                self.string_map()?
            } else {
                BTreeMap::new()
            };
            return Ok((library, params));
        }
        if !self.eat_kw("DELIMITED")? {
            let t = self.advance()?;
            return Err(self.mismatched(&t, &["'DELIMITED'", "'SERDE'"]));
        }
        let mut params = BTreeMap::new();
        let mut put = |p: &Self, t: &Token, k: &str, v: String| {
            if params.insert(k.to_string(), v).is_some() {
                return Err(p.error_at(t, &format!("{k} is given twice")));
            }
            Ok(())
        };
        loop {
            let t = self.peek()?.clone();
            if self.eat_kw("FIELDS")? {
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "field.delim", d.clone())?;
                put(self, &t, "serialization.format", d)?;
                if self.eat_kw("ESCAPED")? {
                    self.expect_kw("BY")?;
                    let e = self.string("escape string")?;
                    put(self, &t, "escape.delim", e)?;
                }
            } else if self.eat_kw("ESCAPED")? {
                self.expect_kw("BY")?;
                let e = self.string("escape string")?;
                put(self, &t, "escape.delim", e)?;
            } else if self.eat_kw("COLLECTION")? {
                self.expect_kw("ITEMS")?;
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "collection.delim", d)?;
            } else if self.eat_kw("MAP")? {
                self.expect_kw("KEYS")?;
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "mapkey.delim", d)?;
            } else if self.eat_kw("LINES")? {
                self.expect_kw("TERMINATED")?;
                self.expect_kw("BY")?;
                let d = self.string("delimiter string")?;
                put(self, &t, "line.delim", d)?;
            } else if self.at_kw("NULL")? && self.at_kw_n(1, "DEFINED")? {
                self.advance()?;
                self.advance()?;
                self.expect_kw("AS")?;
                let d = self.string("null string")?;
                put(self, &t, "serialization.null.format", d)?;
            } else {
                break;
            }
        }
        Ok((LAZY_SIMPLE_SERDE.to_string(), params))
    }

    /// `STORED AS <format>` or `STORED AS INPUTFORMAT '..' OUTPUTFORMAT '..'`: the input and
    /// output formats and the format's own SerDe.
    fn stored_as(&mut self) -> Result<(String, String, Option<&'static str>), String> {
        if self.eat_kw("INPUTFORMAT")? {
            let input = self.string("input format class name")?;
            self.expect_kw("OUTPUTFORMAT")?;
            let output = self.string("output format class name")?;
            return Ok((input, output, None));
        }
        let t = self.advance()?;
        let Tok::Word(w) = &t.tok else {
            return Err(self.mismatched(&t, &["file format", "'INPUTFORMAT'"]));
        };
        let (input, output, serde) = match w.to_ascii_uppercase().as_str() {
            "PARQUET" => (
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            ),
            "TEXTFILE" => (TEXT_INPUT, TEXT_OUTPUT, LAZY_SIMPLE_SERDE),
            "JSONFILE" => (TEXT_INPUT, TEXT_OUTPUT, OPENX_JSON_SERDE),
            "ORC" => (
                "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
                "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
                "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            ),
            "AVRO" => (
                "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
                "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
                "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
            ),
            "SEQUENCEFILE" => (
                "org.apache.hadoop.mapred.SequenceFileInputFormat",
                "org.apache.hadoop.hive.ql.io.HiveSequenceFileOutputFormat",
                LAZY_SIMPLE_SERDE,
            ),
            "RCFILE" => (
                "org.apache.hadoop.hive.ql.io.RCFileInputFormat",
                "org.apache.hadoop.hive.ql.io.RCFileOutputFormat",
                "org.apache.hadoop.hive.serde2.columnar.LazyBinaryColumnarSerDe",
            ),
            "ION" => (
                "com.amazon.ionhiveserde.formats.IonInputFormat",
                "com.amazon.ionhiveserde.formats.IonOutputFormat",
                "com.amazon.ionhiveserde.IonHiveSerDe",
            ),
            _ => {
                return Err(self.error_at(
                    &t,
                    &format!(
                        "Unknown file format '{w}' in STORED AS. Expecting: PARQUET, TEXTFILE, JSONFILE, ORC, AVRO, \
                         SEQUENCEFILE, RCFILE, ION or INPUTFORMAT '...' OUTPUTFORMAT '...'"
                    ),
                ));
            }
        };
        Ok((input.to_string(), output.to_string(), Some(serde)))
    }
}

/// Glue's `classification` for a table's formats, when tarn knows it.
fn classification(input_format: &str, serde: &str) -> Option<&'static str> {
    let input = input_format.to_ascii_lowercase();
    let serde = serde.to_ascii_lowercase();
    if input.contains("parquet") || serde.contains("parquet") {
        Some("parquet")
    } else if input.contains("orc") || serde.contains("orcserde") {
        Some("orc")
    } else if input.contains("avro") || serde.contains("avroserde") {
        Some("avro")
    } else if serde.contains("jsonserde") {
        Some("json")
    } else if serde.contains("lazysimpleserde") || serde.contains("opencsvserde") {
        Some("csv")
    } else {
        None
    }
}
