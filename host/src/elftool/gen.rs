//! `gen-manifest`: JSON manifest source to a C file defining the MFT1 note.
//!
//! The C file is self-contained (no Solo5 headers needed): it declares the
//! manifest structures with the layout of §3.2 and the const object
//! `__solo5_mft1_note` in section `.note.solo5.manifest`. A device type is
//! pasted as `MFT_DEV_<TYPE>`, so a type other than `BLOCK_BASIC` or
//! `NET_BASIC` fails when the file is compiled, as upstream's does.

use ringtender_abi::mft::{MFT_MAX_ENTRIES, MFT_NAME_MAX, MFT_VERSION};

use super::json::{self, Node, Value};
use super::VERSION;

/// Type, constant and struct declarations; then the note object follows.
const PRELUDE: &str = r#"enum {
    MFT_DEV_BLOCK_BASIC = 1,
    MFT_DEV_NET_BASIC = 2,
    MFT_RESERVED_FIRST = 1U << 30
};

struct mft_entry {
    char name[68];
    unsigned int type;
    union {
        struct {
            unsigned long long capacity;
            unsigned short block_size;
        } block_basic;
        struct {
            unsigned char mac[6];
            unsigned short mtu;
        } net_basic;
    } u;
    union {
        int hostfd;
        void *data;
    } b;
    _Bool attached;
};

struct mft {
    unsigned int version;
    unsigned int entries;
    struct mft_entry e[MFT_ENTRIES];
};

struct mft1_nhdr {
    unsigned int n_namesz;
    unsigned int n_descsz;
    unsigned int n_type;
    char n_name[8];
};

struct mft1_note {
    struct mft1_nhdr h;
    struct mft m;
};

_Static_assert(sizeof(struct mft_entry) == 104, "struct mft_entry layout");
_Static_assert(__builtin_offsetof(struct mft1_note, m) == 24, "struct mft1_note layout");

const struct mft1_note __solo5_mft1_note
    __attribute__((section(".note.solo5.manifest"), aligned(4))) = {
    .h = {
        .n_namesz = 6,
        .n_descsz = sizeof(struct mft1_note) - sizeof(struct mft1_nhdr),
        .n_type = 0x3154464d,
        .n_name = "Solo5"
    },
    .m = {
"#;

/// `"<source>:<line>: <what>"`.
fn at(source: &[u8], line: usize, what: &[u8]) -> Vec<u8> {
    let mut m = source.to_vec();
    m.extend_from_slice(format!(":{line}: ").as_bytes());
    m.extend_from_slice(what);
    m
}

/// Fails unless `node` holds a value of type `want` (upstream's wording).
fn expect(source: &[u8], node: &Node, want: &str, loc: &str) -> Result<(), Vec<u8>> {
    let got = node.value.type_name();
    if got == want {
        return Ok(());
    }
    Err(at(
        source,
        node.line,
        format!("{loc}: expected {want}, got {got}").as_bytes(),
    ))
}

fn members(node: &Node) -> &[Node] {
    match &node.value {
        Value::Array(v) | Value::Object(v) => v,
        _ => &[],
    }
}

fn unknown_key(source: &[u8], node: &Node, loc: &str) -> Vec<u8> {
    let mut what = format!("{loc}: unknown key: ").into_bytes();
    what.extend_from_slice(&node.name);
    at(source, node.line, &what)
}

/// Generates the C source for JSON `input` (read from `source`) into `out`.
///
/// On error `out` keeps what upstream would already have written (the
/// header and the entries before a bad device), and the message is
/// returned.
pub fn generate(source: &[u8], input: &[u8], out: &mut Vec<u8>) -> Result<(), Vec<u8>> {
    let root = json::parse(input)?;
    expect(source, &root, "OBJECT", "(root)")?;

    let (mut jtype, mut jversion, mut jdevices) = (None, None, None);
    // Entry 0 (MFT_RESERVED_FIRST) is always added.
    let mut entries = 1usize;
    for member in members(&root) {
        match member.name.as_slice() {
            b"type" => {
                expect(source, member, "STRING", ".type")?;
                jtype = Some(member);
            }
            b"version" => {
                expect(source, member, "INTEGER", ".version")?;
                jversion = Some(member);
            }
            b"devices" => {
                expect(source, member, "ARRAY", ".devices")?;
                for dev in members(member) {
                    expect(source, dev, "OBJECT", ".devices[]")?;
                    entries += 1;
                }
                jdevices = Some(member);
            }
            _ => return Err(unknown_key(source, member, "(root)")),
        }
    }
    let jtype = jtype.ok_or_else(|| at(source, root.line, b"missing .type"))?;
    let jversion = jversion.ok_or_else(|| at(source, root.line, b"missing .version"))?;
    let jdevices = jdevices.ok_or_else(|| at(source, root.line, b"missing .devices[]"))?;

    if jtype.value != Value::Str(b"solo5.manifest".to_vec()) {
        return Err(at(
            source,
            jtype.line,
            b".type: invalid value, expected \"solo5.manifest\"",
        ));
    }
    if let Value::Int(v) = jversion.value {
        if v != i64::from(MFT_VERSION) {
            let what = format!(".version: invalid version {v}, expected {MFT_VERSION}");
            return Err(at(source, jversion.line, what.as_bytes()));
        }
    }
    if entries > MFT_MAX_ENTRIES {
        let what = format!(
            ".devices[]: too many entries, maximum {}",
            MFT_MAX_ENTRIES - 1
        );
        return Err(at(source, jdevices.line, what.as_bytes()));
    }

    out.extend_from_slice(
        format!(
            "/* Generated by solo5-elftool version {VERSION}, do not edit */\n\n\
             #define MFT_ENTRIES {entries}\n\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(PRELUDE.as_bytes());
    out.extend_from_slice(
        format!(
            "        .version = {MFT_VERSION}, .entries = {entries},\n        .e = {{\n            \
             {{ .name = \"\", .type = MFT_RESERVED_FIRST }},\n"
        )
        .as_bytes(),
    );
    for dev in members(jdevices) {
        let (mut name, mut dtype) = (None, None);
        for field in members(dev) {
            match field.name.as_slice() {
                b"name" => {
                    expect(source, field, "STRING", ".devices[...]")?;
                    name = Some(field);
                }
                b"type" => {
                    expect(source, field, "STRING", ".devices[...]")?;
                    dtype = Some(field);
                }
                _ => return Err(unknown_key(source, field, ".devices[...]")),
            }
        }
        let name = name.ok_or_else(|| at(source, dev.line, b".devices[...]: missing .name"))?;
        let Value::Str(name_text) = &name.value else {
            unreachable!("checked to be a string")
        };
        if name_text.is_empty() {
            return Err(at(
                source,
                name.line,
                b".devices[...]: .name may not be empty",
            ));
        }
        if name_text.len() > MFT_NAME_MAX {
            return Err(at(source, name.line, b".devices[...]: name too long"));
        }
        if !name_text.iter().all(u8::is_ascii_alphanumeric) {
            return Err(at(
                source,
                name.line,
                b".devices[...]: name is not alphanumeric",
            ));
        }
        let dtype = dtype.ok_or_else(|| at(source, dev.line, b".devices[...]: missing .type"))?;
        let Value::Str(type_text) = &dtype.value else {
            unreachable!("checked to be a string")
        };
        out.extend_from_slice(b"            { .name = \"");
        out.extend_from_slice(name_text);
        out.extend_from_slice(b"\", .type = MFT_DEV_");
        out.extend_from_slice(type_text);
        out.extend_from_slice(b" },\n");
    }
    out.extend_from_slice(b"        }\n    }\n};\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> Result<String, String> {
        let mut out = Vec::new();
        generate(b"m.json", input.as_bytes(), &mut out)
            .map(|()| String::from_utf8(out).unwrap())
            .map_err(|e| String::from_utf8(e).unwrap())
    }

    fn devices(list: &str) -> String {
        format!("{{\"type\": \"solo5.manifest\", \"version\": 1, \"devices\": [{list}]}}")
    }

    #[test]
    fn generates_entries_in_order() {
        let c = run(&devices(
            r#"{"name": "net0", "type": "NET_BASIC"}, {"type": "BLOCK_BASIC", "name": "disk1"}"#,
        ))
        .unwrap();
        assert!(c.contains("#define MFT_ENTRIES 3\n"));
        assert!(c.contains(".version = 1, .entries = 3,"));
        let net = c
            .find("{ .name = \"net0\", .type = MFT_DEV_NET_BASIC },")
            .unwrap();
        let blk = c
            .find("{ .name = \"disk1\", .type = MFT_DEV_BLOCK_BASIC },")
            .unwrap();
        assert!(net < blk);
        assert!(run(&devices(""))
            .unwrap()
            .contains("#define MFT_ENTRIES 1\n"));
    }

    #[test]
    fn structure_errors() {
        assert_eq!(
            run("[]").unwrap_err(),
            "m.json:1: (root): expected OBJECT, got ARRAY"
        );
        assert_eq!(
            run("{\"type\": \"solo5.manifest\", \"version\": 1}").unwrap_err(),
            "m.json:1: missing .devices[]"
        );
        assert_eq!(
            run("{\"devices\": [], \"version\": 1}").unwrap_err(),
            "m.json:1: missing .type"
        );
        assert_eq!(
            run("{\"devices\": [], \"type\": \"solo5.manifest\"}").unwrap_err(),
            "m.json:1: missing .version"
        );
        assert_eq!(
            run("{\n\"type\": \"solo5.manifest\",\n\"extra\": 1}").unwrap_err(),
            "m.json:3: (root): unknown key: extra"
        );
        assert_eq!(
            run("{\"type\": \"solo5.manifest\",\n\"version\": 1.0}").unwrap_err(),
            "m.json:2: .version: expected INTEGER, got REAL"
        );
        assert_eq!(
            run("{\"type\": \"other\", \"version\": 1, \"devices\": []}").unwrap_err(),
            "m.json:1: .type: invalid value, expected \"solo5.manifest\""
        );
        assert_eq!(
            run("{\"type\": \"solo5.manifest\", \"version\": 2, \"devices\": []}").unwrap_err(),
            "m.json:1: .version: invalid version 2, expected 1"
        );
        assert_eq!(
            run(&devices("1")).unwrap_err(),
            "m.json:1: .devices[]: expected OBJECT, got INTEGER"
        );
    }

    #[test]
    fn too_many_entries() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("{{\"name\": \"s{i}\", \"type\": \"BLOCK_BASIC\"}}"))
                .collect::<Vec<_>>()
                .join(",\n")
        };
        assert!(run(&devices(&list(63))).is_ok());
        assert_eq!(
            run(&devices(&list(64))).unwrap_err(),
            "m.json:1: .devices[]: too many entries, maximum 63"
        );
    }

    #[test]
    fn device_errors() {
        let cases = [
            (
                r#"{"name": "a", "mtu": 1}"#,
                "m.json:1: .devices[...]: unknown key: mtu",
            ),
            (
                r#"{"type": "NET_BASIC"}"#,
                "m.json:1: .devices[...]: missing .name",
            ),
            (r#"{"name": "a"}"#, "m.json:1: .devices[...]: missing .type"),
            (
                r#"{"name": "", "type": "NET_BASIC"}"#,
                "m.json:1: .devices[...]: .name may not be empty",
            ),
            (
                r#"{"name": "a-b", "type": "NET_BASIC"}"#,
                "m.json:1: .devices[...]: name is not alphanumeric",
            ),
            (
                r#"{"name": "é", "type": "NET_BASIC"}"#,
                "m.json:1: .devices[...]: name is not alphanumeric",
            ),
            (
                r#"{"name": 5, "type": "NET_BASIC"}"#,
                "m.json:1: .devices[...]: expected STRING, got INTEGER",
            ),
        ];
        for (dev, want) in cases {
            assert_eq!(run(&devices(dev)).unwrap_err(), want, "{dev}");
        }
        let long = "a".repeat(68);
        let dev = format!(r#"{{"name": "{long}", "type": "NET_BASIC"}}"#);
        assert_eq!(
            run(&devices(&dev)).unwrap_err(),
            "m.json:1: .devices[...]: name too long"
        );
        let dev = format!(r#"{{"name": "{}", "type": "NET_BASIC"}}"#, &long[1..]);
        assert!(run(&devices(&dev)).is_ok());
    }

    #[test]
    fn partial_output_before_device_error() {
        let mut out = Vec::new();
        let input =
            devices(r#"{"name": "ok", "type": "NET_BASIC"}, {"name": "x y", "type": "NET_BASIC"}"#);
        assert!(generate(b"m", input.as_bytes(), &mut out).is_err());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"ok\"") && !text.contains("x y") && !text.ends_with("};\n"));
    }
}
