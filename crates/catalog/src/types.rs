//! Glue/Hive column types (`bigint`, `decimal(10,2)`, `array<struct<a:int>>`, ...) as Arrow
//! types: one parser for the SQL engine, Firehose's format conversion and anything else that
//! reads a table's columns.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, TimeUnit};

/// Parses a Glue/Hive column type (`bigint`, `decimal(10,2)`, `array<struct<a:int>>`, ...).
pub fn arrow_type(glue: &str) -> Result<DataType, String> {
    let mut p = TypeParser { s: glue.trim().as_bytes(), pos: 0 };
    let t = p.parse()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(format!("unexpected text in type '{glue}'"));
    }
    Ok(t)
}

struct TypeParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl TypeParser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len() && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'_') {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).to_ascii_lowercase()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) { Ok(()) } else { Err(format!("expected '{}' in a column type", c as char)) }
    }

    fn number(&mut self) -> Result<u32, String> {
        let w = self.word();
        w.parse().map_err(|_| format!("expected a number in a column type, found '{w}'"))
    }

    fn parse(&mut self) -> Result<DataType, String> {
        let name = self.word();
        Ok(match name.as_str() {
            "tinyint" => DataType::Int8,
            "smallint" => DataType::Int16,
            "int" | "integer" => DataType::Int32,
            "bigint" | "long" => DataType::Int64,
            "float" | "real" => DataType::Float32,
            "double" => DataType::Float64,
            "boolean" => DataType::Boolean,
            "string" | "varchar" | "char" => {
                if self.eat(b'(') {
                    self.number()?;
                    self.expect(b')')?;
                }
                DataType::Utf8
            }
            "date" => DataType::Date32,
            "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "binary" => DataType::Binary,
            "decimal" | "numeric" => {
                let (mut p, mut s) = (10, 0);
                if self.eat(b'(') {
                    p = self.number()?;
                    if self.eat(b',') {
                        s = self.number()?;
                    }
                    self.expect(b')')?;
                }
                if p == 0 || p > 38 || s > p {
                    return Err(format!("decimal({p},{s}) is out of range"));
                }
                DataType::Decimal128(p as u8, s as i8)
            }
            "array" => {
                self.expect(b'<')?;
                let item = self.parse()?;
                self.expect(b'>')?;
                DataType::List(Arc::new(Field::new("item", item, true)))
            }
            "map" => {
                self.expect(b'<')?;
                let k = self.parse()?;
                self.expect(b',')?;
                let v = self.parse()?;
                self.expect(b'>')?;
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![Field::new("key", k, false), Field::new("value", v, true)])),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            "struct" => {
                self.expect(b'<')?;
                let mut fields = Vec::new();
                if !self.eat(b'>') {
                    loop {
                        let name = self.field_name();
                        self.expect(b':')?;
                        fields.push(Field::new(name, self.parse()?, true));
                        if self.eat(b'>') {
                            break;
                        }
                        self.expect(b',')?;
                    }
                }
                DataType::Struct(Fields::from(fields))
            }
            "" => return Err("missing column type".into()),
            other => return Err(format!("unsupported column type '{other}'")),
        })
    }

    fn field_name(&mut self) -> String {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len() && !matches!(self.s[self.pos], b':' | b',' | b'<' | b'>') {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).trim().trim_matches('`').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_types_map_to_arrow() {
        assert_eq!(arrow_type("bigint").unwrap(), DataType::Int64);
        assert_eq!(arrow_type("DECIMAL(15, 2)").unwrap(), DataType::Decimal128(15, 2));
        assert_eq!(arrow_type("varchar(25)").unwrap(), DataType::Utf8);
        let nested = arrow_type("array<struct<a:int,b:map<string,double>>>").unwrap();
        let DataType::List(item) = nested else { panic!("list") };
        let DataType::Struct(fields) = item.data_type() else { panic!("struct") };
        assert_eq!(fields.len(), 2);
        assert!(matches!(fields[1].data_type(), DataType::Map(..)));
        assert!(arrow_type("nonsense").is_err());
        assert!(arrow_type("decimal(40,2)").is_err());
        assert!(arrow_type("array<int").is_err());
    }
}
