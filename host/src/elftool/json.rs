//! The JSON reader of `solo5-elftool gen-manifest`.
//!
//! It accepts what upstream's reader accepts and fails where it fails, with
//! the same messages and line numbers, because the manifest sources are
//! shared with upstream's toolchain: one top-level value (anything after it
//! is ignored), integers told apart from reals, strings as C strings (cut at
//! an embedded NUL), and upstream's leniencies (missing or repeated commas
//! between elements, a keyword whose last letter differs).
//!
//! Upstream's reader recurses once per nesting level without a limit and
//! dies of a stack overflow (SIGSEGV) somewhere past forty thousand levels
//! on an 8 MiB stack. This one stops at [`MAX_DEPTH`] levels with a parse
//! error in upstream's form and exit status 1, like any other malformed
//! input. No manifest nests deeper than three levels, so a source that
//! upstream accepts is accepted here too.

/// Deepest nesting of arrays and objects accepted; one more level is a
/// parse error ("nesting deeper than ... levels").
pub const MAX_DEPTH: usize = 1000;

/// A parsed value and the line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Line number (1-based) where the reader started reading this value;
    /// for object members that is the line of the colon.
    pub line: usize,
    /// Member name, for values inside an object; empty otherwise.
    pub name: Vec<u8>,
    /// The value.
    pub value: Value,
}

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A string, cut at its first NUL.
    Str(Vec<u8>),
    /// A number without fraction or exponent, saturated to `i64`.
    Int(i64),
    /// Any other number.
    Real(f64),
    /// An array.
    Array(Vec<Node>),
    /// An object; members keep their order and duplicates.
    Object(Vec<Node>),
}

impl Value {
    /// The type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "BOOLEAN",
            Value::Str(_) => "STRING",
            Value::Int(_) => "INTEGER",
            Value::Real(_) => "REAL",
            Value::Array(_) => "ARRAY",
            Value::Object(_) => "OBJECT",
        }
    }
}

/// Parses the first JSON value of `input`. The error is the message to print
/// after the program name.
pub fn parse(input: &[u8]) -> Result<Node, Vec<u8>> {
    let mut r = Reader {
        data: input,
        pos: 0,
        line: 1,
    };
    r.value()
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
}

/// An array or object being read.
struct Open {
    /// The closing bracket.
    term: u8,
    /// Line where it started.
    line: usize,
    /// Member name, inside an object.
    name: Vec<u8>,
    /// Elements read so far.
    items: Vec<Node>,
}

impl Open {
    fn into_node(self) -> Node {
        Node {
            line: self.line,
            name: self.name,
            value: if self.term == b'}' {
                Value::Object(self.items)
            } else {
                Value::Array(self.items)
            },
        }
    }
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl Reader<'_> {
    fn getch(&mut self) -> Option<u8> {
        let c = *self.data.get(self.pos)?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Pushes `c` back. Like `ungetc` of a `char`, a 0xff byte (which reads
    /// as EOF) cannot be pushed back and is dropped.
    fn ungetch(&mut self, c: u8) {
        if c == 0xff {
            return;
        }
        self.pos -= 1;
        if c == b'\n' {
            self.line -= 1;
        }
    }

    fn getch_skip(&mut self) -> Option<u8> {
        loop {
            match self.getch() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => continue,
                other => return other,
            }
        }
    }

    fn skip_ws(&mut self) -> Option<u8> {
        let c = self.getch_skip();
        if let Some(c) = c {
            self.ungetch(c);
        }
        c
    }

    fn err(&self, what: &[u8]) -> Vec<u8> {
        let mut m = what.to_vec();
        m.extend_from_slice(format!(" on line {} in JSON data", self.line).as_bytes());
        m
    }

    /// "unexpected 'c'", where EOF prints as the byte 0xff.
    fn unexpected(&self, c: Option<u8>) -> Vec<u8> {
        let mut m = b"unexpected '".to_vec();
        m.push(c.unwrap_or(0xff));
        m.push(b'\'');
        self.err(&m)
    }

    /// Reads one value. Arrays and objects are read with an explicit stack
    /// of the open ones, not by recursion, so the depth of the input does
    /// not bound the depth of the call stack.
    fn value(&mut self) -> Result<Node, Vec<u8>> {
        let mut open: Vec<Open> = Vec::new();
        // Member name for the next value read (inside an object).
        let mut name = Vec::new();
        loop {
            let mut done = self.value_start(&mut open)?.map(|(line, value)| Node {
                line,
                name: std::mem::take(&mut name),
                value,
            });
            if done.is_none() {
                open.last_mut().expect("just opened").name = std::mem::take(&mut name);
            }
            // Add what was completed to the innermost open container, then
            // read separators and closing brackets up to the next value.
            loop {
                let Some(top) = open.last_mut() else {
                    return Ok(done.expect("a value was completed"));
                };
                if let Some(node) = done.take() {
                    top.items.push(node);
                }
                match self.skip_ws() {
                    None => return Err(early_eof()),
                    Some(b',') => {
                        if top.items.is_empty() {
                            return Err(self.err(b"missing value before comma"));
                        }
                        self.getch();
                    }
                    Some(c) if c == top.term => {
                        self.getch();
                        let closed = open.pop().expect("checked above");
                        done = Some(closed.into_node());
                    }
                    Some(_) if top.term == b'}' => {
                        name = self.string()?;
                        if self.getch_skip() != Some(b':') {
                            return Err(self.err(b"expected colon in object element"));
                        }
                        break;
                    }
                    Some(_) => break,
                }
            }
        }
    }

    /// Reads a scalar (with the line it starts on), or opens an array or an
    /// object on `open` and returns `None`.
    fn value_start(&mut self, open: &mut Vec<Open>) -> Result<Option<(usize, Value)>, Vec<u8>> {
        let line = self.line;
        let value = match self.skip_ws() {
            None => return Err(early_eof()),
            Some(b'f') => self.keyword(b"false", Value::Bool(false))?,
            Some(b'n') => self.keyword(b"null", Value::Null)?,
            Some(b't') => self.keyword(b"true", Value::Bool(true))?,
            Some(term @ (b'{' | b'[')) => {
                if open.len() == MAX_DEPTH {
                    let what = format!("nesting deeper than {MAX_DEPTH} levels");
                    return Err(self.err(what.as_bytes()));
                }
                self.getch();
                open.push(Open {
                    term: if term == b'{' { b'}' } else { b']' },
                    line,
                    name: Vec::new(),
                    items: Vec::new(),
                });
                return Ok(None);
            }
            Some(b'"') => Value::Str(self.string()?),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(c) => return Err(self.unexpected(Some(c))),
        };
        Ok(Some((line, value)))
    }

    /// Reads `word`; a mismatch on its last letter still counts as a match.
    fn keyword(&mut self, word: &[u8], value: Value) -> Result<Value, Vec<u8>> {
        let mut i = 0;
        while i < word.len() {
            let Some(c) = self.getch() else {
                return Err(early_eof());
            };
            i += 1;
            if word[i - 1] != c {
                break;
            }
        }
        if i == word.len() {
            return Ok(value);
        }
        let mut m = b"expected ".to_vec();
        m.extend_from_slice(word);
        Err(self.err(&m))
    }

    fn string(&mut self) -> Result<Vec<u8>, Vec<u8>> {
        match self.getch() {
            None => return Err(early_eof()),
            Some(b'"') => {}
            Some(_) => return Err(self.err(b"missing quote from string")),
        }
        let mut out = Vec::new();
        loop {
            let Some(c) = self.getch() else {
                return Err(early_eof());
            };
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.getch() else {
                        return Err(early_eof());
                    };
                    match e {
                        b'"' | b'/' | b'\\' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut x = 0u32;
                            for _ in 0..4 {
                                let Some(h) = self.getch() else {
                                    return Err(early_eof());
                                };
                                let Some(d) = char::from(h).to_digit(16) else {
                                    return Err(self.err(b"expected hex digit"));
                                };
                                x = x * 16 + d;
                            }
                            push_utf8(&mut out, x);
                        }
                        _ => {
                            let mut m = b"unknown escape code '\\".to_vec();
                            m.extend_from_slice(&[e, b'\'']);
                            return Err(self.err(&m));
                        }
                    }
                }
                c if c >= b' ' => out.push(c),
                c if is_c_space(c) => return Err(self.err(b"unescaped whitespace")),
                c => return Err(self.err(format!("unknown byte (0x{c:02x})").as_bytes())),
            }
        }
        if let Some(nul) = out.iter().position(|&b| b == 0) {
            out.truncate(nul);
        }
        Ok(out)
    }

    fn number(&mut self) -> Result<Value, Vec<u8>> {
        let mut text = String::new();
        let mut c = self.getch();
        if c == Some(b'-') {
            text.push('-');
            c = self.getch();
        }
        match c {
            Some(b'0') => {
                text.push('0');
                c = self.getch();
            }
            Some(d @ b'1'..=b'9') => {
                text.push(char::from(d));
                c = self.getch();
                while let Some(d @ b'0'..=b'9') = c {
                    text.push(char::from(d));
                    c = self.getch();
                }
            }
            other => return Err(self.unexpected(other)),
        }
        let mut integer = true;
        if c == Some(b'.') {
            integer = false;
            text.push('.');
            c = self.getch();
            while let Some(d @ b'0'..=b'9') = c {
                text.push(char::from(d));
                c = self.getch();
            }
        }
        if let Some(e @ (b'e' | b'E')) = c {
            integer = false;
            text.push(char::from(e));
            c = self.getch();
            if let Some(s @ (b'+' | b'-')) = c {
                text.push(char::from(s));
                c = self.getch();
            }
            while let Some(d @ b'0'..=b'9') = c {
                text.push(char::from(d));
                c = self.getch();
            }
        }
        match c {
            Some(t @ (b',' | b']' | b'}')) => self.ungetch(t),
            None => {}
            Some(s) if is_c_space(s) => {}
            Some(other) => return Err(self.unexpected(Some(other))),
        }
        if integer {
            Ok(Value::Int(parse_saturating(&text)))
        } else {
            Ok(Value::Real(parse_real(&text)))
        }
    }
}

fn early_eof() -> Vec<u8> {
    b"premature EOF in JSON data".to_vec()
}

/// Encodes a code point up to 0xffff as UTF-8, surrogates included.
fn push_utf8(out: &mut Vec<u8>, x: u32) {
    if x <= 0x7f {
        out.push(x as u8);
    } else if x <= 0x7ff {
        out.extend_from_slice(&[0xc0 | (x >> 6) as u8, 0x80 | (x & 0x3f) as u8]);
    } else {
        out.extend_from_slice(&[
            0xe0 | (x >> 12) as u8,
            0x80 | ((x >> 6) & 0x3f) as u8,
            0x80 | (x & 0x3f) as u8,
        ]);
    }
}

/// Decimal integer, saturated on overflow (like `strtoll`).
fn parse_saturating(text: &str) -> i64 {
    text.parse::<i64>().unwrap_or(if text.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A real as text (`1.`, `1e` included); the value is never printed.
fn parse_real(text: &str) -> f64 {
    let trimmed = text.trim_end_matches(['e', 'E', '+', '-']);
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    trimmed.parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        String::from_utf8(parse(s.as_bytes()).unwrap_err()).unwrap()
    }

    #[test]
    fn values_and_lines() {
        let n =
            parse(b"\n{\n \"a\":\n  1, \"b\": [true, null, -2.5e3, \"x\\u00e9\\n\"],\n\"c\": {}}")
                .unwrap();
        assert_eq!(n.line, 1);
        let Value::Object(m) = n.value else { panic!() };
        assert_eq!(
            (m[0].name.as_slice(), m[0].line, &m[0].value),
            (&b"a"[..], 3, &Value::Int(1))
        );
        assert_eq!(m[1].line, 4);
        let Value::Array(a) = &m[1].value else {
            panic!()
        };
        assert_eq!(a[0].value, Value::Bool(true));
        assert_eq!(a[1].value, Value::Null);
        assert_eq!(a[2].value, Value::Real(-2500.0));
        assert_eq!(a[3].value, Value::Str("x\u{e9}\n".into()));
        assert_eq!(m[2].value, Value::Object(Vec::new()));
    }

    #[test]
    fn upstream_leniencies() {
        assert_eq!(parse(b"[1 2,,3,]").unwrap().value.type_name(), "ARRAY");
        assert_eq!(parse(b"trux").unwrap().value, Value::Bool(true));
        assert_eq!(
            parse(b"{} trailing garbage").unwrap().value,
            Value::Object(Vec::new())
        );
        assert_eq!(
            parse(b"\"a\\u0000b\"").unwrap().value,
            Value::Str(b"a".to_vec())
        );
        assert_eq!(
            parse(b"99999999999999999999").unwrap().value,
            Value::Int(i64::MAX)
        );
        assert_eq!(parse(b"1.").unwrap().value.type_name(), "REAL");
    }

    #[test]
    fn errors() {
        assert_eq!(err(""), "premature EOF in JSON data");
        assert_eq!(err("{\"a\": 1"), "premature EOF in JSON data");
        assert_eq!(
            err("[,1]"),
            "missing value before comma on line 1 in JSON data"
        );
        assert_eq!(
            err("{\n\"a\" 1}"),
            "expected colon in object element on line 2 in JSON data"
        );
        assert_eq!(
            err("{a: 1}"),
            "missing quote from string on line 1 in JSON data"
        );
        assert_eq!(err("[x]"), "unexpected 'x' on line 1 in JSON data");
        assert_eq!(err("[1x]"), "unexpected 'x' on line 1 in JSON data");
        assert_eq!(err("[-a]"), "unexpected 'a' on line 1 in JSON data");
        assert_eq!(err("[fx]"), "expected false on line 1 in JSON data");
        assert_eq!(
            err("\"a\nb\""),
            "unescaped whitespace on line 2 in JSON data"
        );
        assert_eq!(
            err("\"a\u{1}\""),
            "unknown byte (0x01) on line 1 in JSON data"
        );
        assert_eq!(
            err("\"\\q\""),
            "unknown escape code '\\q' on line 1 in JSON data"
        );
        assert_eq!(
            err("\"\\u12g4\""),
            "expected hex digit on line 1 in JSON data"
        );
        assert_eq!(
            parse(b"-").unwrap_err(),
            b"unexpected '\xff' on line 1 in JSON data"
        );
    }

    #[test]
    fn depth_limit() {
        let nested = |depth: usize| {
            let inner = if depth % 2 == 1 { "[0]" } else { "0" };
            "\n".to_string() + &"[{\"a\":".repeat(depth / 2) + inner + &"}]".repeat(depth / 2)
        };
        assert_eq!(
            parse(nested(MAX_DEPTH).as_bytes())
                .unwrap()
                .value
                .type_name(),
            "ARRAY"
        );
        assert_eq!(
            err(&nested(MAX_DEPTH + 1)),
            format!("nesting deeper than {MAX_DEPTH} levels on line 2 in JSON data")
        );
    }
}
