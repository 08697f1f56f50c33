//! The config ROM's top-level attributes, whatever its syntax (XML or HID):
//! the shim walks them with `Genode::Node`, so the component never parses
//! the ROM itself.

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, c_void};

use crate::{sys, Error};

/// One attribute, as written in the ROM (XML entities not decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Attribute value.
    pub value: String,
}

unsafe extern "C" fn collect(
    ctx: *mut c_void,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) {
    // SAFETY: `ctx` is the `Vec` passed by `attributes` below, alive for the
    // whole call; name and value are valid for their lengths per the ABI.
    let out = unsafe { &mut *ctx.cast::<Vec<Attribute>>() };
    let (name, value) = unsafe { (bytes(name, name_len), bytes(value, value_len)) };
    out.push(Attribute {
        name: String::from_utf8_lossy(name).into(),
        value: String::from_utf8_lossy(value).into(),
    });
}

/// # Safety
/// `ptr` must be valid for `len` bytes, or `len` must be 0.
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: per the function's contract.
        unsafe { core::slice::from_raw_parts(ptr.cast(), len) }
    }
}

/// The attributes of the `<config>` node, in order.
pub fn attributes() -> Result<Vec<Attribute>, Error> {
    let mut out: Vec<Attribute> = Vec::new();
    // SAFETY: `collect` matches `sg_attribute_fn` and only uses `out`.
    Error::check(unsafe {
        sys::sg_config_attributes((&mut out as *mut Vec<Attribute>).cast(), collect)
    })?;
    Ok(out)
}

/// The value of attribute `name`, if present.
pub fn attribute(name: &str) -> Result<Option<String>, Error> {
    Ok(attributes()?
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.value))
}
