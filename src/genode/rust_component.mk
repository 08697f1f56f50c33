#
# Classic Genode build of a Rust component (included by src/<crate>/target.mk)
#
# Expects CRATE. Builds the crate as a no_std staticlib with stable cargo for
# the host triple (see src/Makefile for why that fits Genode) and links it,
# together with the C++ shims (the genode crate's and the Snapper session's),
# into TARGET.
#

SHIM_DIRS := $(REP_DIR)/src/genode/shim $(REP_DIR)/src/session/shim

SRC_CC  += $(notdir $(foreach d,$(SHIM_DIRS),$(wildcard $(d)/*.cc)))
LIBS    += base vfs
INC_DIR += $(REP_DIR)/src/include $(SHIM_DIRS)

vpath %.cc $(SHIM_DIRS)

CARGO        ?= cargo
CARGO_TARGET := $(CURDIR)/cargo-target
RUST_LIB     := $(CARGO_TARGET)/release/lib$(CRATE).a

# snappertests reads TESTS at compile time (its build.rs reruns on change)
ifdef TESTS
export TESTS
endif

EXT_OBJECTS += $(RUST_LIB)

$(TARGET): $(RUST_LIB)

# cargo knows best whether the crate changed: always ask it
$(RUST_LIB): FORCE
	$(MSG_BUILD)$(notdir $@)
	$(VERBOSE)$(CARGO) rustc -p $(CRATE) --lib --crate-type staticlib \
		--manifest-path $(REP_DIR)/Cargo.toml --target-dir $(CARGO_TARGET) \
		--release --no-default-features --features genode \
		--config 'profile.release.panic="abort"' --quiet
