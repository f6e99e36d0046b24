//! What a statement returns, and how `cockroach sql` prints it in each `--format`.

/// What one statement returns: a tag (`CREATE ROLE`) or rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Tag(String),
    Rows {
        columns: Vec<String>,
        rows: Vec<Vec<Option<String>>>,
    },
}

/// The client's `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Table,
}

impl Format {
    pub fn parse(flag: Option<&str>) -> Result<Format, String> {
        match flag {
            Some("csv") => Ok(Format::Csv),
            Some("tsv") => Ok(Format::Tsv),
            Some("table") | None => Ok(Format::Table),
            Some(other) => Err(format!(
                "ERROR: the sandbox prints SQL results only as csv, tsv or table, not {other}"
            )),
        }
    }
}

/// `{a,b}`: how CockroachDB prints a string array.
pub fn array(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.as_ref().to_string()).collect();
    format!("{{{}}}", items.join(","))
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

impl Output {
    /// As `cockroach sql` prints it in `format`.
    pub fn render(&self, format: Format) -> String {
        let (columns, rows) = match self {
            Output::Tag(tag) => return tag.clone(),
            Output::Rows { columns, rows } => (columns, rows),
        };
        let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
        let mut lines = Vec::new();
        match format {
            Format::Csv | Format::Tsv => {
                let sep = if format == Format::Csv { "," } else { "\t" };
                let field = |v: &str| {
                    if format == Format::Csv {
                        csv_field(v)
                    } else {
                        v.to_string()
                    }
                };
                lines.push(
                    columns
                        .iter()
                        .map(|c| field(c))
                        .collect::<Vec<_>>()
                        .join(sep),
                );
                for r in rows {
                    lines.push(
                        r.iter()
                            .map(|v| field(&cell(v)))
                            .collect::<Vec<_>>()
                            .join(sep),
                    );
                }
            }
            Format::Table => {
                lines.push(format!("  {}", columns.join(" | ")));
                lines.push("-----------".into());
                for r in rows {
                    lines.push(format!(
                        "  {}",
                        r.iter().map(cell).collect::<Vec<_>>().join(" | ")
                    ));
                }
                let n = rows.len();
                lines.push(format!("({n} row{})", if n == 1 { "" } else { "s" }));
            }
        }
        lines.join("\n")
    }
}
