# classic build: make -C build/x86_64 snappercrash
# (see src/genode/rust_component.mk; everything the client needs comes from
# its config, which run/snappercrash.run rewrites before each boot)
TARGET = snappercrash
CRATE  = snappercrash

include $(REP_DIR)/src/genode/rust_component.mk
