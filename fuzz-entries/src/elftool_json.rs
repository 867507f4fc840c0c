//! `solo5-elftool gen-manifest`: the JSON reader and the generator behind it.

use ringtender_host::elftool::{gen, json};

/// Parses `data` as a manifest source and generates its C file.
///
/// Checks: a parse error is in upstream's form ("... in JSON data"); the generator
/// fails exactly where the reader fails or a manifest rule is broken, and
/// on success it wrote the note object.
pub fn run(data: &[u8]) {
    let parsed = json::parse(data);
    if let Err(msg) = &parsed {
        assert!(msg.ends_with(b" in JSON data"), "upstream's form");
    }
    let mut out = Vec::new();
    let generated = gen::generate(b"fuzz.json", data, &mut out);
    match (&parsed, &generated) {
        (Err(a), Err(b)) => assert_eq!(a, b, "the reader's error is passed on"),
        (Err(_), Ok(())) => panic!("generated from input the reader rejects"),
        (Ok(_), Ok(())) => assert!(
            out.windows(17).any(|w| w == b"__solo5_mft1_note"),
            "the C file defines the note"
        ),
        (Ok(_), Err(_)) => {}
    }
}
