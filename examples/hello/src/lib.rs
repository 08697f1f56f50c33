//! The example component of the `genode` crate: reads the attribute
//! `greeting` of its config, logs it, writes it to the file `hello` of its
//! VFS and reads it back.
//!
//! On Genode the shim calls `sg_component_construct` (feature `genode`),
//! which exits with [`run`]'s value; on the host, `tests/hello.rs` calls
//! [`run`] over `genode-host`.
//!
//! ```xml
//! <config greeting="hello">
//!   <vfs> <ram/> </vfs>
//! </config>
//! ```

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

use alloc::string::String;

use genode::vfs::Vfs;
use genode::{config, log_error, log_info, Error};

/// The file the component writes.
pub const FILE: &str = "hello";

/// Longest greeting the component reads back.
const MAX_GREETING: usize = 256;

/// Does the component's work; 0 on success, 1 on a VFS error (logged).
pub fn run() -> i32 {
    let greeting = match config::attribute("greeting") {
        Ok(Some(greeting)) => greeting,
        Ok(None) => String::from("hello"),
        Err(e) => {
            log_error!("hello: no config: {e}");
            return 1;
        }
    };
    log_info!("hello: greeting is \"{greeting}\"");
    match write_and_read(greeting.as_bytes()) {
        Ok(n) => {
            log_info!("hello: read {n} bytes back from {FILE}");
            0
        }
        Err(e) => {
            log_error!("hello: {FILE}: {e}");
            1
        }
    }
}

/// Writes `text` to [`FILE`], makes it durable and reads it back; the
/// bytes read, [`Error::Io`] if they differ from `text`.
fn write_and_read(text: &[u8]) -> Result<usize, Error> {
    if text.len() > MAX_GREETING {
        return Err(Error::Invalid);
    }
    let mut vfs = Vfs::init()?;
    vfs.write_new(FILE, &[text])?;
    vfs.sync()?;
    let mut buf = [0u8; MAX_GREETING];
    let n = vfs.read_at(FILE, 0, &mut buf)?;
    if buf.get(..n) != Some(text) {
        return Err(Error::Io);
    }
    Ok(n)
}

#[cfg(feature = "genode")]
fn construct() {
    genode::exit(run())
}

#[cfg(feature = "genode")]
genode::component!(construct);
