//! What a Snapper root directory holds, as the Genode component tests read
//! it after a run on the host: its names, and its committed generations
//! whichever way their archives are stored.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use snapper_core::dir::DirStorage;
use snapper_testkit::image;

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The generations with a valid archive under `dir`: committed records of
/// the archive log and `<gen>/archive` files.
pub fn committed(dir: &Path) -> BTreeSet<u32> {
    let mut storage = DirStorage::open(dir).unwrap();
    let image = image::read_image(&mut storage).unwrap();
    image::valid_archives(&image)
        .values()
        .map(|archive| archive.generation.0)
        .collect()
}
