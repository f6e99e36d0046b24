//! Splits SQL text into tokens the way CockroachDB's scanner does for the statements the emulation knows:
//! unquoted identifiers and keywords folded to lower case, `"quoted"` identifiers kept as written, `'strings'`
//! with `''` for a quote, numbers, and single-character symbols. `--` comments run to the end of the line.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An unquoted word, lower-cased (a keyword or an identifier).
    Word(String),
    /// A `"double-quoted"` identifier, case kept.
    Quoted(String),
    /// A `'single-quoted'` string constant.
    Str(String),
    Number(String),
    Symbol(char),
}

impl Token {
    /// The identifier this token names, if it can name one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Token::Word(w) | Token::Quoted(w) => Some(w),
            _ => None,
        }
    }
}

/// Tokens of `text`, or the error CockroachDB's parser gives for an unterminated quote.
pub fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '-' if chars.peek() == Some(&'-') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '\'' | '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some(q) if q == c && chars.peek() == Some(&c) => {
                            chars.next();
                            value.push(c);
                        }
                        Some(q) if q == c => break,
                        Some(other) => value.push(other),
                        None => {
                            let what = if c == '\'' { "string" } else { "identifier" };
                            return Err(format!(
                                "ERROR: at or near \"EOF\": syntax error: unterminated quoted {what}\nSQLSTATE: 42601"
                            ));
                        }
                    }
                }
                out.push(if c == '\'' {
                    Token::Str(value)
                } else {
                    Token::Quoted(value)
                });
            }
            c if c.is_ascii_digit() => {
                let mut n = c.to_string();
                while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit()) {
                    n.push(d);
                    chars.next();
                }
                out.push(Token::Number(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut w = c.to_lowercase().to_string();
                while let Some(d) = chars
                    .peek()
                    .copied()
                    .filter(|d| d.is_alphanumeric() || matches!(d, '_' | '$'))
                {
                    w.extend(d.to_lowercase());
                    chars.next();
                }
                out.push(Token::Word(w));
            }
            other => out.push(Token::Symbol(other)),
        }
    }
    Ok(out)
}

/// `text` cut into statements at `;` outside quotes; empty statements dropped.
pub fn statements(text: &str) -> Result<Vec<Vec<Token>>, String> {
    let mut out = vec![Vec::new()];
    for t in tokens(text)? {
        if t == Token::Symbol(';') {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(t);
        }
    }
    out.retain(|s| !s.is_empty());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fold_and_quotes_keep_case_and_escapes() {
        assert_eq!(
            tokens("CREATE USER \"Bob\" PASSWORD 'it''s'").unwrap(),
            vec![
                Token::Word("create".into()),
                Token::Word("user".into()),
                Token::Quoted("Bob".into()),
                Token::Word("password".into()),
                Token::Str("it's".into()),
            ]
        );
        assert!(tokens("SELECT 'open").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn statements_split_at_semicolons_outside_quotes() {
        let s =
            statements("SHOW USERS; -- a comment; still\nCREATE USER a PASSWORD 'x;y';;").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].last(), Some(&Token::Str("x;y".into())));
    }
}
