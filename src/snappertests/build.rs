// TESTS is read at build time (as in 2.0's target.mk); without this a
// changed TESTS would silently reuse the old build.
fn main() {
    println!("cargo:rerun-if-env-changed=TESTS");
}
