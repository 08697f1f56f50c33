//! Runs the example component over the host implementation of the ABI.

use genode::log::Level;
use std::path::PathBuf;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("genode-hello-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn hello_reads_its_config_logs_and_round_trips_a_file() {
    let dir = temp_dir("ok");
    genode_host::install(r#"<config greeting="grüß dich"/>"#, &dir);
    assert_eq!(genode_hello::run(), 0);
    assert_eq!(
        std::fs::read(dir.join(genode_hello::FILE)).unwrap(),
        "grüß dich".as_bytes()
    );
    assert_eq!(
        genode_host::log_lines(),
        [
            (Level::Info, "hello: greeting is \"grüß dich\"".to_string()),
            (
                Level::Info,
                "hello: read 11 bytes back from hello".to_string()
            ),
        ]
    );
    assert_eq!(genode_host::stats().syncs, 1);
}

#[test]
fn hello_fails_with_a_log_line_when_the_file_exists() {
    let dir = temp_dir("exists");
    std::fs::write(dir.join(genode_hello::FILE), b"old").unwrap();
    genode_host::install("<config/>", &dir);
    assert_eq!(genode_hello::run(), 1);
    let lines = genode_host::log_lines();
    assert_eq!(lines.last().map(|(level, _)| *level), Some(Level::Error));
    assert!(
        lines
            .iter()
            .any(|(_, line)| line == "hello: hello: already exists"),
        "{lines:?}"
    );
    assert_eq!(std::fs::read(dir.join(genode_hello::FILE)).unwrap(), b"old");
}
